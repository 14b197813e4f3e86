using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Pretraining;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The DALL-E dVAE encoder (BEiT's tokenizer) reproduces OpenAI's code on ../shared/reference/dalle-encoder-tiny,
/// loads by OpenAI's key names, and infers its config from the weights.
/// </summary>
[TestClass]
public sealed class DalleEncoderTests
{
    const string Case = "dalle-encoder-tiny";
    const double Tolerance = 1e-4;

    [TestMethod]
    public void ReproducesEveryReferenceTensor()
    {
        string weights = Path.Combine(ReferenceData.Case(Case), "weights.safetensors");
        var expected = ReferenceData.Expected(Case);
        using var tokenizer = DalleTokenizer.Load(weights, inputSize: 32);
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var pixels = expected["pixel_values"];
            var mapped = DalleEncoder.MapPixels(pixels);
            using var stages = tokenizer.Encoder.ForwardWithStages(mapped);
            var produced = new Dictionary<string, Tensor>
            {
                ["mapped_pixels"] = mapped,
                ["after_input_conv"] = stages.AfterInputConv,
                ["logits"] = stages.Logits,
            };
            for (int g = 0; g < stages.AfterGroups.Count; g++) produced[$"after_group_{g + 1}"] = stages.AfterGroups[g];

            double worst = 0;
            foreach (var (name, reference) in expected.Where(p => p.Key is not "pixel_values" and not "tokens"))
            {
                Assert.IsTrue(produced.ContainsKey(name), $"the reference has '{name}', which this test does not compute");
                double diff = ReferenceData.MaxAbsDiff(produced[name], reference);
                Console.WriteLine($"{Case} {name} [{string.Join(",", reference.shape)}] max abs diff {diff:E2}");
                Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{name} differs from the reference by {diff:E3}");
                worst = Math.Max(worst, diff);
            }

            var tokens = tokenizer.Tokenize(pixels);
            var reference_tokens = expected["tokens"].flatten(1);
            long mismatched = tokens.ne(reference_tokens).sum().item<long>();
            Console.WriteLine($"{Case} tokens [{string.Join(",", tokens.shape)}]: {mismatched} of {tokens.numel()} differ; " +
                $"{tokens.unique().Item1.numel()} distinct; worst max abs diff {worst:E2} (tolerance {Tolerance:E0})");
            CollectionAssert.AreEqual(new long[] { 2, 16 }, tokens.shape);
            Assert.AreEqual(0L, mismatched, "tokens must equal the reference exactly");
        }
        finally
        {
            foreach (var t in expected.Values) t.Dispose();
        }
    }

    [TestMethod]
    public void ConfigIsInferredFromTheReferenceWeights()
    {
        string weights = Path.Combine(ReferenceData.Case(Case), "weights.safetensors");
        var config = DalleEncoderConfig.Infer(weights);
        Console.WriteLine($"{Case}: {config}, downsampling {config.Downsampling}, post gain {config.PostGain}");
        Assert.AreEqual(new DalleEncoderConfig(HiddenChannels: 16, BlocksPerGroup: 1, InputChannels: 3, VocabularySize: 64, GroupCount: 4), config);
        Assert.AreEqual(0.0625, config.PostGain);

        // Our modules have exactly OpenAI's keys and shapes.
        using var encoder = new DalleEncoder(config);
        var ours = encoder.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
        var theirs = SafetensorsFile.ReadLayout(weights).ToDictionary(t => t.Name, t => t.Shape);
        CollectionAssert.AreEquivalent(theirs.Keys.ToList(), ours.Keys.ToList());
        foreach (var (key, shape) in theirs) CollectionAssert.AreEqual(shape, ours[key], key);
        Console.WriteLine($"{ours.Count} tensors with OpenAI's names and shapes");
    }

    [TestMethod]
    [DataRow(16, 1, 3, 64, 4)]
    [DataRow(8, 2, 3, 32, 3)]
    [DataRow(4, 3, 1, 10, 2)]
    [DataRow(12, 1, 3, 100, 1)]
    public void ConfigIsInferredFromAnyEncodersWeights(int hidden, int blocks, int channels, int vocabulary, int groups)
    {
        var config = new DalleEncoderConfig(hidden, blocks, channels, vocabulary, groups);
        using var encoder = new DalleEncoder(config);
        var inferred = DalleEncoderConfig.Infer(encoder.state_dict(), "in-memory encoder");
        Console.WriteLine($"{config} -> {encoder.state_dict().Count} tensors -> inferred {inferred}");
        Assert.AreEqual(config, inferred);
    }

    [TestMethod]
    public void KeysFollowOpenAIsLayout()
    {
        using var encoder = new DalleEncoder(new DalleEncoderConfig(8, 2, 3, 32));
        var keys = encoder.state_dict().Keys.ToList();
        foreach (var key in new[] { "blocks.input.w", "blocks.input.b", "blocks.group_1.block_1.res_path.conv_1.w", "blocks.group_1.block_2.res_path.conv_4.b",
                     "blocks.group_2.block_1.id_path.w", "blocks.group_4.block_2.res_path.conv_3.w", "blocks.output.conv.w", "blocks.output.conv.b" })
            CollectionAssert.Contains(keys, key);
        // The identity path has weights only where the width changes.
        CollectionAssert.DoesNotContain(keys, "blocks.group_1.block_1.id_path.w");
        CollectionAssert.DoesNotContain(keys, "blocks.group_2.block_2.id_path.w");
        Console.WriteLine($"{keys.Count} keys, e.g. {string.Join(", ", keys.Take(4))}");
        Assert.AreEqual(2 + 4 * 2 * 8 + 3 * 2 + 2, keys.Count);
    }

    [TestMethod]
    public void InferenceErrorsNameTheProblem()
    {
        using var encoder = new DalleEncoder(new DalleEncoderConfig(8, 2, 3, 32));
        var shapes = encoder.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);

        var noOutput = shapes.Where(p => !p.Key.StartsWith("blocks.output", StringComparison.Ordinal)).ToDictionary();
        var error = Assert.ThrowsExactly<InvalidDataException>(() => DalleEncoderConfig.Infer(noOutput, "enc.safetensors"));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "enc.safetensors is not a DALL-E dVAE encoder: it has no 'blocks.output.conv.w' tensor");

        var uneven = shapes.Where(p => !p.Key.StartsWith("blocks.group_3.block_2.", StringComparison.Ordinal)).ToDictionary();
        error = Assert.ThrowsExactly<InvalidDataException>(() => DalleEncoderConfig.Infer(uneven, "enc.safetensors"));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "group_3 has blocks 1 but group_1 has blocks 1..2");

        var beit = new Dictionary<string, long[]> { ["beit.embeddings.cls_token"] = [1, 1, 48] };
        error = Assert.ThrowsExactly<InvalidDataException>(() => DalleEncoderConfig.Infer(beit, "model.safetensors"));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "'beit.embeddings.cls_token'");
    }

    [TestMethod]
    public void VisualTokenizersLoadsADalleEncoderFile()
    {
        string file = Path.Combine(Path.GetTempPath(), $"dalle-{Guid.NewGuid():N}.safetensors");
        try
        {
            manual_seed(3);
            using (var encoder = new DalleEncoder(new DalleEncoderConfig(8, 1, 3, 48)))
                SafetensorsFile.Write(file, encoder.state_dict());
            using var tokenizer = VisualTokenizers.Load(file);
            Assert.IsInstanceOfType<DalleTokenizer>(tokenizer);
            Console.WriteLine($"{tokenizer.GetType().Name}: vocabulary {tokenizer.VocabularySize}, input {tokenizer.InputSize}, grid {tokenizer.GridSize}");
            Assert.AreEqual(48, tokenizer.VocabularySize);
            Assert.AreEqual(112, tokenizer.InputSize);
            Assert.AreEqual(14, tokenizer.GridSize);

            using var pixels = rand(2, 3, 112, 112);
            using var tokens = tokenizer.Tokenize(pixels);
            CollectionAssert.AreEqual(new long[] { 2, 196 }, tokens.shape);
            Assert.AreEqual(ScalarType.Int64, tokens.dtype);
            Assert.IsTrue(tokens.ge(0).all().item<bool>() && tokens.lt(48).all().item<bool>(), "token ids lie in [0, vocabulary)");

            using var wrong = rand(1, 3, 64, 64);
            var error = Assert.ThrowsExactly<ArgumentException>(() => tokenizer.Tokenize(wrong));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "[batch, 3, 112, 112]");
            StringAssert.Contains(error.Message, "[1, 3, 64, 64]");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void InputSizeMustFitTheDownsampling()
    {
        var encoder = new DalleEncoder(new DalleEncoderConfig(8, 1, 3, 16));
        var error = Assert.ThrowsExactly<ArgumentException>(() => new DalleTokenizer(encoder, inputSize: 100));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "multiple of its downsampling 8; got 100");
        encoder.Dispose();
    }
}
