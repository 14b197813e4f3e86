using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Training;

namespace Microsoft.ML.Beit.Tests;

/// <summary>The shared training engine's parameter groups and schedule equal unilm's formulas.</summary>
[TestClass]
public sealed class TrainingEngineTests
{
    [TestMethod]
    public void ParameterGroupsFollowUnilmsLayerDecayAndWeightDecayRules()
    {
        var config = TinyModels.Config();
        config.UseMaskToken = true;
        using var model = new BeitForImageClassification(config);
        const double layerDecay = 0.75, weightDecay = 0.05;
        int layers = config.NumHiddenLayers;
        var groups = BeitLayerDecay.Groups(model, layers, layerDecay, weightDecay);

        var byName = groups.SelectMany(g => g.Names.Select(n => (Name: n, Group: g))).ToDictionary(p => p.Name, p => p.Group);
        Assert.HasCount(model.parameters().Count(), byName, "every trainable parameter is in exactly one group");
        foreach (var (name, group) in byName)
        {
            int expectedLayer = name.StartsWith("beit.embeddings.") ? 0
                : name.StartsWith("beit.encoder.layer.") ? int.Parse(name.Split('.')[3]) + 1
                : layers + 1;
            Assert.AreEqual(expectedLayer, group.LayerId, name);
            Assert.AreEqual(Math.Pow(layerDecay, layers + 1 - expectedLayer), group.LearningRateScale, 1e-12, name);
        }
        Console.WriteLine(string.Join("\n", groups.Select(g => $"layer {g.LayerId} scale {g.LearningRateScale:F4} decay {g.WeightDecay}: {g.Names.Count} parameters")));
        foreach (var noDecay in new[] { "beit.embeddings.cls_token", "beit.embeddings.mask_token", "beit.encoder.layer.0.attention.attention.query.bias",
                     "beit.encoder.layer.1.lambda_1", "beit.encoder.layer.2.layernorm_after.weight", "beit.pooler.layernorm.weight",
                     "beit.encoder.layer.0.attention.attention.relative_position_bias.relative_position_bias_table", "classifier.bias" })
            Assert.AreEqual(0.0, byName[noDecay].WeightDecay, noDecay);
        foreach (var decays in new[] { "beit.embeddings.patch_embeddings.projection.weight", "beit.encoder.layer.2.output.dense.weight", "classifier.weight" })
            Assert.AreEqual(weightDecay, byName[decays].WeightDecay, decays);
        Assert.AreEqual(1.0, byName["classifier.weight"].LearningRateScale, "the head learns at the full rate");
        Assert.AreEqual(Math.Pow(layerDecay, layers + 1), byName["beit.embeddings.patch_embeddings.projection.weight"].LearningRateScale);
    }

    [TestMethod]
    public void CosineScheduleWarmsUpLinearlyThenDecaysToTheMinimum()
    {
        // unilm cosine_scheduler(base 1e-3, final 1e-6, epochs 3, 10 iterations per epoch, warmup 1 epoch).
        var schedule = new CosineSchedule(1e-3, 1e-6, totalIterations: 30, warmupIterations: 10);
        Assert.AreEqual(0.0, schedule[0]);
        Assert.AreEqual(1e-3 * 5 / 9, schedule[5], 1e-15, "np.linspace(0, base, 10)[5]");
        Assert.AreEqual(1e-3, schedule[9], 1e-15, "warmup ends at the base value");
        Assert.AreEqual(1e-3, schedule[10], 1e-15, "the cosine starts at the base value");
        Assert.AreEqual(1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + Math.Cos(Math.PI * 10 / 20)), schedule[20], 1e-15);
        Assert.AreEqual(1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + Math.Cos(Math.PI * 19 / 20)), schedule[29], 1e-15);
        Assert.AreEqual(1e-6, schedule[30], "past the end: the final value");
        for (int i = 11; i < 30; i++) Assert.IsLessThan(schedule[i - 1], schedule[i], $"decreasing at {i}");
    }

    [TestMethod]
    public void MixupAndCutmixBlendImagesAndTargetsByTheSameWeight()
    {
        using var images = TorchSharp.torch.arange(4 * 3 * 8 * 8, TorchSharp.torch.ScalarType.Float32).reshape(4, 3, 8, 8);
        using var original = images.clone();
        using var labels = TorchSharp.torch.tensor(new long[] { 0, 1, 2, 1 });
        var random = new Random(5);

        var mixup = new MixupCutmix(mixupAlpha: 0.8, cutmixAlpha: 0, switchProbability: 0.5, labelSmoothing: 0.1, classes: 3);
        using var mixed = images.clone();
        using var soft = mixup.Apply(mixed, labels, random);
        // Image 0 is lam * image 0 + (1 - lam) * image 3; its target is lam * smooth(0) + (1 - lam) * smooth(1).
        double lam = ((mixed[0] - original[3]) / (original[0] - original[3])).mean().item<float>();
        double off = 0.1 / 3, on = 0.9 + off;
        Assert.AreEqual(lam * on + (1 - lam) * off, soft[0, 0].item<float>(), 1e-4);
        Assert.AreEqual(lam * off + (1 - lam) * on, soft[0, 1].item<float>(), 1e-4);
        Assert.AreEqual(1.0, soft.sum(1).mean().item<float>(), 1e-5);
        Console.WriteLine($"mixup lambda {lam:F3}");

        var cutmix = new MixupCutmix(mixupAlpha: 0, cutmixAlpha: 1.0, switchProbability: 0.5, labelSmoothing: 0, classes: 3);
        using var pasted = images.clone();
        using var cutTargets = cutmix.Apply(pasted, labels, random);
        using var fromOther = pasted[0].eq(original[3]).all(0);
        double pastedFraction = fromOther.to(TorchSharp.torch.ScalarType.Float32).mean().item<float>();
        Console.WriteLine($"cutmix: {pastedFraction:P1} of image 0 comes from image 3; target weight of its class {cutTargets[0, 1].item<float>():F3}");
        Assert.AreEqual(pastedFraction, cutTargets[0, 1].item<float>(), 1e-5, "the target weight is the pasted area");
        Assert.AreEqual(1 - pastedFraction, cutTargets[0, 0].item<float>(), 1e-5);
    }

    [TestMethod]
    public void RandAugmentIsSeededAndChangesImagesWithinRange()
    {
        var pixels = new byte[32 * 24 * 3];
        new Random(1).NextBytes(pixels);
        var image = new Preprocessing.RgbImage(32, 24, pixels);
        var policy = new RandAugment(layers: 2, magnitude: 9);
        int changed = 0;
        for (int seed = 0; seed < 50; seed++)
        {
            var a = policy.Apply(image, new Random(seed));
            var b = policy.Apply(image, new Random(seed));
            CollectionAssert.AreEqual(a.Pixels, b.Pixels, "the same seed gives the same image");
            Assert.AreEqual((32, 24), (a.Width, a.Height));
            if (!a.Pixels.SequenceEqual(pixels)) changed++;
        }
        Console.WriteLine($"RandAugment m9 x2 changed {changed} of 50 images (each operation applies with probability 0.5)");
        Assert.IsTrue(changed is > 25 and < 50, "about three in four images change");
        CollectionAssert.AreEqual(pixels, image.Pixels, "the input is not modified");
    }

    [TestMethod]
    public void RandomErasingFillsOneBoxWithNoise()
    {
        var values = new float[3 * 20 * 30];
        new RandomErasing(1.0).Apply(values, 20, 30, new Random(4));
        int erased = values.Count(v => v != 0) / 3;
        Console.WriteLine($"erased {erased} of 600 pixels");
        Assert.IsTrue(erased is >= 12 and <= 200, "2-33 % of the area");
        var untouched = new float[3 * 20 * 30];
        new RandomErasing(0).Apply(untouched, 20, 30, new Random(4));
        Assert.IsTrue(untouched.All(v => v == 0));
    }
}
