using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Behaviour of the modules beyond the reference outputs: attention maps, masking, stochastic depth, bad input.</summary>
[TestClass]
public sealed class ModelingTests
{
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void AttentionProbabilitiesAreReturnedOnRequestAndAgreeWithTheFusedPath(bool sharedBias)
    {
        var config = TinyModels.Config(sharedBias: sharedBias);
        using var model = TinyModels.Randomize(new BeitModel(config));
        using var pixels = TinyModels.Pixels();
        using var noGrad = no_grad();
        using var fused = model.forward(pixels, null);
        using var explicitPath = model.forward(pixels, null, outputHiddenStates: true, outputAttentions: true);

        Assert.HasCount(config.NumHiddenLayers, explicitPath.Attentions!);
        Assert.HasCount(config.NumHiddenLayers + 1, explicitPath.HiddenStates!);
        foreach (var probabilities in explicitPath.Attentions!)
        {
            CollectionAssert.AreEqual(new long[] { 2, 4, 17, 17 }, probabilities.shape);
            using var rowSums = probabilities.sum(-1);
            Assert.IsLessThan(1e-5, (rowSums - 1).abs().max().item<float>(), "each query's probabilities sum to 1");
        }
        double diff = ReferenceData.MaxAbsDiff(explicitPath.PoolerOutput!, fused.PoolerOutput!);
        Console.WriteLine($"shared bias {sharedBias}: pooled features, explicit softmax vs fused attention: max abs diff {diff:E2}");
        Assert.IsLessThan(1e-5, diff);
    }

    [TestMethod]
    public void MaskedPatchesSeeTheMaskTokenAndOthersDoNot()
    {
        var config = TinyModels.Config();
        using var model = TinyModels.Randomize(new BeitForMaskedImageModeling(config));
        using var pixels = TinyModels.Pixels(batch: 1);
        using var noGrad = no_grad();
        using var none = zeros([1, 16], ScalarType.Bool);
        using var one = none.clone();
        one[0, 5] = tensor(true);
        using var embeddedPlain = model.beit.embeddings.forward(pixels, none);
        using var embeddedMasked = model.beit.embeddings.forward(pixels, one);
        using var changed = (embeddedPlain - embeddedMasked).abs().sum(-1)[0];
        using var expectedToken = model.beit.embeddings.mask_token!.reshape(-1);
        Assert.AreEqual(0.0, ReferenceData.MaxAbsDiff(embeddedMasked[0, 6], expectedToken), "token 6 (patch 5) is the mask token");
        Assert.AreEqual(1, changed.gt(0).sum().item<long>(), "only the masked patch changes");

        using var masked = model.ForwardMasked(pixels, one);
        CollectionAssert.AreEqual(new long[] { 1, config.VocabSize }, masked.shape);
    }

    [TestMethod]
    public void StochasticDepthDropsWholeSamplesInTrainingOnly()
    {
        using var dropPath = new BeitDropPath(0.5);
        using var input = ones(1000, 3, 4);
        dropPath.train();
        using var trained = dropPath.forward(input);
        using var perSample = trained.flatten(1);
        using var kept = perSample[.., 0].gt(0);
        Assert.IsTrue(perSample.min(1).values.eq(perSample.max(1).values).all().item<bool>(), "a sample is kept or dropped whole");
        double keptFraction = kept.to(ScalarType.Float32).mean().item<float>();
        Console.WriteLine($"kept fraction {keptFraction:F3} at rate 0.5; kept samples scaled to {perSample.max().item<float>()}");
        Assert.IsTrue(keptFraction is > 0.4 and < 0.6);
        Assert.AreEqual(2f, perSample.max().item<float>());
        dropPath.eval();
        using var evaluated = dropPath.forward(input);
        Assert.AreEqual(0.0, ReferenceData.MaxAbsDiff(evaluated, input));
    }

    [TestMethod]
    public void WrongInputShapesAreNamedInTheError()
    {
        using var model = new BeitModel(TinyModels.Config());
        using var wrongSize = zeros(1, 3, 64, 64);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(wrongSize)).Message,
            "pixel_values are 64x64 but the model was built for 32x32 images");
        using var grayscale = zeros(1, 1, 32, 32);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(grayscale)).Message, "[batch, 3, height, width]");
        using var pixels = zeros(1, 3, 32, 32);
        using var mask = zeros([1, 16], ScalarType.Bool);
        var noMaskToken = TinyModels.Config();
        noMaskToken.UseMaskToken = false;
        using var plain = new BeitModel(noMaskToken);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => plain.forward(pixels, mask)).Message, "no mask token");
    }

    [TestMethod]
    public void FreshWeightsAreTruncatedNormalAndDifferPerUnit()
    {
        using var values = empty(100_000);
        BeitInitializer.TruncatedNormal(values, 0.02, -0.02, 0.02, new Generator(3));
        double std = values.std().item<float>(), min = values.min().item<float>(), max = values.max().item<float>();
        Console.WriteLine($"N(0, 0.02) truncated at one std: std {std:F5} (theory 0.01080), range [{min:F4}, {max:F4}]");
        Assert.AreEqual(0.0108, std, 0.0003);
        Assert.IsTrue(min >= -0.02 && max <= 0.02 && min < -0.0199 && max > 0.0199);

        var config = TinyModels.Config();
        using var model = new BeitForImageClassification(config);
        BeitInitializer.Initialize(model, config);
        using var rows = model.classifier.weight!.std(1);
        Assert.IsTrue(rows.min().item<float>() > 0.005, "every row of a weight is random, not a constant");
        Assert.AreEqual(0.0, model.beit.encoder.layer[0].attention.attention.relative_position_bias!.relative_position_bias_table.abs().sum().item<float>());
    }
}
