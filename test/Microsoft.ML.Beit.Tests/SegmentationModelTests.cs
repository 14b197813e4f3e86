using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// BeitForSemanticSegmentation reproduces Hugging Face's on ../shared/reference/seg-hf-tiny: backbone, necks,
/// UperNet and FCN heads, upsampled scores and the losses; and both out_indices conventions pick the right states.
/// </summary>
[TestClass]
public sealed class SegmentationModelTests
{
    const double Tolerance = 1e-4;
    const string Case = "seg-hf-tiny";

    [TestMethod]
    public void ReproducesEveryReferenceTensor()
    {
        using var checkpoint = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(Case), "weights.safetensors"));
        Assert.AreEqual(BeitArchitecture.SemanticSegmentation, checkpoint.Architecture);
        using var model = checkpoint.CreateModel();
        Assert.IsInstanceOfType<BeitForSemanticSegmentation>(model);
        AssertMatches(model, "loaded from the Hugging Face checkpoint");
    }

    [TestMethod]
    public void SavedAndReloadedStillMatches()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"beit-seg-{Guid.NewGuid():N}");
        try
        {
            using (var checkpoint = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(Case), "weights.safetensors")))
            using (var model = checkpoint.CreateModel())
                BeitCheckpoint.Save(model, directory);
            using var reloaded = BeitCheckpoint.Load(directory);
            using var again = reloaded.CreateModel();
            AssertMatches(again, "saved and reloaded");
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void UnilmConventionTakesEachBlocksOutput()
    {
        // unilm's out_indices k is block k's output, hidden_states[k + 1]; Hugging Face's is hidden_states[k - 1].
        // So unilm [0, 1, 2, 3] must select what Hugging Face [2, 3, 4, 5] selects.
        using var checkpoint = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(Case), "weights.safetensors"));
        var hf = checkpoint.Config.Clone();
        hf.OutIndices = [2, 3, 4, 5];
        var unilm = checkpoint.Config.Clone();
        unilm.OutIndices = [0, 1, 2, 3];
        unilm.OutIndicesConvention = "unilm";
        var expected = ReferenceData.Expected(Case);
        using var pixels = expected["pixel_values"];
        using var a = Build(hf, checkpoint);
        using var b = Build(unilm, checkpoint);
        using var noGrad = no_grad();
        using var outA = a.forward(pixels);
        using var outB = b.forward(pixels);
        double same = ReferenceData.MaxAbsDiff(outB.Logits, outA.Logits);
        using var reference = expected["logits"];
        double moved = ReferenceData.MaxAbsDiff(outB.Logits, reference);
        Console.WriteLine($"unilm [0,1,2,3] vs Hugging Face [2,3,4,5]: {same:E2}; vs the reference's [1,2,3,4]: {moved:E2}");
        Assert.AreEqual(0.0, same, 1e-6);
        Assert.IsGreaterThan(0.01, moved);
        foreach (var t in expected.Values) t.Dispose();
    }

    [TestMethod]
    public void BadOutIndicesAreRejectedWithTheValues()
    {
        var config = TinyModels.SegmentationConfig(classes: 3);
        config.OutIndices = [1, 2, 3];
        var error = Assert.ThrowsExactly<ArgumentException>(() => new BeitForSemanticSegmentation(config));
        StringAssert.Contains(error.Message, "4 layers");
        config.OutIndices = [1, 2, 3, 9];
        error = Assert.ThrowsExactly<ArgumentException>(() => new BeitForSemanticSegmentation(config));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "[1, 2, 3, 9]");
    }

    static BeitForSemanticSegmentation Build(BeitConfig config, BeitCheckpoint weights)
    {
        var model = new BeitForSemanticSegmentation(config);
        BeitStateDict.Load(model, weights.Weights, "seg-hf-tiny");
        model.eval();
        return model;
    }

    static void AssertMatches(nn.Module model, string how)
    {
        var expected = ReferenceData.Expected(Case);
        var outputs = BeitNamedOutputs.Compute(model, expected["pixel_values"], labels: expected["labels"]);
        try
        {
            double worst = 0;
            foreach (var (name, reference) in expected.Where(p => p.Key is not ("pixel_values" or "labels" or "segmentation_map")))
            {
                Assert.IsTrue(outputs.ContainsKey(name), $"no '{name}' among {string.Join(", ", outputs.Keys)}");
                double diff = ReferenceData.MaxAbsDiff(outputs[name], reference);
                Console.WriteLine($"{name} [{string.Join(",", reference.shape)}] max abs diff {diff:E2}");
                Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{name} differs by {diff:E3} ({how})");
                worst = Math.Max(worst, diff);
            }
            // The reference has one pixel whose top two scores are closer than the tolerance.
            using var differing = outputs["segmentation_map"].ne(expected["segmentation_map"]).sum();
            long pixels = differing.item<long>();
            Console.WriteLine($"{how}: worst max abs diff {worst:E2}; segmentation map differs in {pixels} of {expected["segmentation_map"].numel()} pixels");
            Assert.IsLessThanOrEqualTo(1L, pixels);
        }
        finally
        {
            foreach (var t in outputs.Values.Concat(expected.Values)) t.Dispose();
        }
    }
}

/// <summary>unilm/mmseg segmentation checkpoints (backbone./decode_head. keys, conv_seg, fused qkv) load with the unilm convention.</summary>
[TestClass]
public sealed class MmsegCheckpointTests
{
    [TestMethod]
    public void MmsegLayoutLoadsAndMatchesTheHuggingFaceModel()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            using var hf = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case("seg-hf-tiny"), "weights.safetensors"));
            string file = Path.Combine(folder, "mmseg.safetensors");
            using (var scope = NewDisposeScope())
                SafetensorsFile.Write(file, ToMmseg(hf.Weights));

            using (var detected = BeitCheckpoint.Load(file))
            {
                Console.WriteLine($"layout {detected.Layout}, architecture {detected.Architecture}, out_indices_convention {detected.Config.OutIndicesConvention}");
                Assert.AreEqual(BeitCheckpointLayout.Unilm, detected.Layout);
                Assert.AreEqual(BeitArchitecture.SemanticSegmentation, detected.Architecture);
                Assert.AreEqual("unilm", detected.Config.OutIndicesConvention);
                Assert.AreEqual(16, detected.Config.AuxiliaryChannels);
            }

            // unilm [0, 1, 2, 3] (blocks 0-3) is Hugging Face [2, 3, 4, 5].
            var unilmConfig = hf.Config.Clone();
            unilmConfig.OutIndices = [0, 1, 2, 3];
            unilmConfig.OutIndicesConvention = "unilm";
            var hfConfig = hf.Config.Clone();
            hfConfig.OutIndices = [2, 3, 4, 5];
            using var mmseg = BeitCheckpoint.Load(file, new BeitCheckpointOptions { Config = unilmConfig });
            using var fromMmseg = (BeitForSemanticSegmentation)mmseg.CreateModel();
            using var fromHf = new BeitForSemanticSegmentation(hfConfig);
            BeitStateDict.Load(fromHf, hf.Weights, "seg-hf-tiny");
            fromHf.eval();
            var expected = ReferenceData.Expected("seg-hf-tiny");
            using var noGrad = no_grad();
            using var a = fromMmseg.forward(expected["pixel_values"], withAuxiliary: true);
            using var b = fromHf.forward(expected["pixel_values"], withAuxiliary: true);
            double diff = Math.Max(ReferenceData.MaxAbsDiff(a.Logits, b.Logits), ReferenceData.MaxAbsDiff(a.AuxiliaryLogits!, b.AuxiliaryLogits!));
            Console.WriteLine($"mmseg layout vs Hugging Face layout, same weights: max abs diff {diff:E2}");
            Assert.IsLessThanOrEqualTo(1e-5, diff);
            foreach (var t in expected.Values) t.Dispose();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Hugging Face names back to unilm/mmseg ones, as unilm's semantic_segmentation code saves them.
    static Dictionary<string, Tensor> ToMmseg(IReadOnlyDictionary<string, Tensor> hf)
    {
        var parts = new Dictionary<string, string>
        {
            ["layernorm_before"] = "norm1", ["layernorm_after"] = "norm2", ["lambda_1"] = "gamma_1", ["lambda_2"] = "gamma_2",
            ["attention.output.dense"] = "attn.proj", ["intermediate.dense"] = "mlp.fc1", ["output.dense"] = "mlp.fc2",
            ["attention.attention.query.bias"] = "attn.q_bias", ["attention.attention.value.bias"] = "attn.v_bias",
            ["attention.attention.relative_position_bias.relative_position_bias_table"] = "attn.relative_position_bias_table",
        };
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in hf)
        {
            var block = System.Text.RegularExpressions.Regex.Match(key, @"^beit\.encoder\.layer\.(\d+)\.(.+)$");
            if (block.Success)
            {
                string prefix = $"backbone.blocks.{block.Groups[1].Value}.", rest = block.Groups[2].Value;
                if (rest == "attention.attention.query.weight")
                    result[prefix + "attn.qkv.weight"] = cat([tensor, hf[key.Replace("query", "key")], hf[key.Replace("query", "value")]], 0);
                else if (rest is "attention.attention.key.weight" or "attention.attention.value.weight") { }
                else
                {
                    var match = parts.Keys.First(p => rest.StartsWith(p, StringComparison.Ordinal));
                    result[prefix + parts[match] + rest[match.Length..]] = tensor;
                }
            }
            else if (key == "beit.embeddings.cls_token") result["backbone.cls_token"] = tensor;
            else if (key.StartsWith("beit.embeddings.patch_embeddings.projection.", StringComparison.Ordinal))
                result["backbone.patch_embed.proj." + key.Split('.')[^1]] = tensor;
            else if (key.StartsWith("fpn", StringComparison.Ordinal)) result["backbone." + key] = tensor;
            else result[key.Replace(".classifier.", ".conv_seg.")] = tensor;
        }
        return result;
    }
}
