using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The model reproduces the original unilm implementation on every tensor of ../shared/reference,
/// loaded from safetensors and from pickled .pth, through the unilm and the Hugging Face key layouts.
/// </summary>
[TestClass]
public sealed class ReferenceParityTests
{
    const double Tolerance = 1e-4;
    static readonly string[] Inputs = ["pixel_values", "bool_masked_pos"];

    [TestMethod]
    [DataRow("unilm-finetune-tiny", "weights.safetensors", BeitCheckpointLayout.Unilm, BeitArchitecture.ImageClassification)]
    [DataRow("unilm-finetune-tiny", "weights.pth", BeitCheckpointLayout.Unilm, BeitArchitecture.ImageClassification)]
    [DataRow("unilm-pretrain-tiny", "weights.safetensors", BeitCheckpointLayout.Unilm, BeitArchitecture.MaskedImageModeling)]
    [DataRow("unilm-pretrain-tiny", "weights.pth", BeitCheckpointLayout.Unilm, BeitArchitecture.MaskedImageModeling)]
    [DataRow("hf-layout-tiny", "weights.safetensors", BeitCheckpointLayout.HuggingFace, BeitArchitecture.ImageClassification)]
    public void ReproducesEveryReferenceTensor(string caseName, string weightsFile, BeitCheckpointLayout layout, BeitArchitecture architecture)
    {
        using var checkpoint = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(caseName), weightsFile));
        Assert.AreEqual(layout, checkpoint.Layout);
        Assert.AreEqual(architecture, checkpoint.Architecture);
        using var model = checkpoint.CreateModel();
        AssertMatchesReference(caseName, model);
    }

    [TestMethod]
    [DataRow("unilm-finetune-tiny", "weights.pth")]
    [DataRow("unilm-pretrain-tiny", "weights.safetensors")]
    public void SavedInHuggingFaceLayoutAndReloadedStillMatches(string caseName, string weightsFile)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"beit-roundtrip-{Guid.NewGuid():N}");
        try
        {
            using (var original = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(caseName), weightsFile)))
            using (var model = original.CreateModel())
                BeitCheckpoint.Save(model, directory);

            var keys = SafetensorsFile.ReadLayout(Path.Combine(directory, "model.safetensors")).Select(t => t.Name).ToList();
            Assert.IsTrue(keys.All(k => !k.StartsWith("blocks.", StringComparison.Ordinal)), "saved keys must be Hugging Face names");
            Assert.IsTrue(keys.Any(k => k.StartsWith("beit.encoder.layer.0.attention.attention.query", StringComparison.Ordinal)));

            using var reloaded = BeitCheckpoint.Load(directory);
            Assert.AreEqual(BeitCheckpointLayout.HuggingFace, reloaded.Layout);
            using var model2 = reloaded.CreateModel();
            AssertMatchesReference(caseName, model2);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void UnilmAndHuggingFaceLayoutsGiveTheSameWeights()
    {
        using var unilm = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case("unilm-finetune-tiny"), "weights.pth"));
        using var hf = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case("hf-layout-tiny"), "weights.safetensors"));
        CollectionAssert.AreEquivalent(hf.Weights.Keys.ToList(), unilm.Weights.Keys.ToList());
        foreach (var (key, tensor) in hf.Weights)
            Assert.AreEqual(0.0, ReferenceData.MaxAbsDiff(unilm.Weights[key], tensor), key);
        Console.WriteLine($"{hf.Weights.Count} tensors identical after the unilm -> Hugging Face key map");
    }

    static void AssertMatchesReference(string caseName, nn.Module model)
    {
        var expected = ReferenceData.Expected(caseName);
        try
        {
            var outputs = BeitNamedOutputs.Compute(model, expected["pixel_values"], expected.GetValueOrDefault("bool_masked_pos"));
            try
            {
                double worst = 0;
                foreach (var (name, reference) in expected.Where(p => !Inputs.Contains(p.Key)))
                {
                    Assert.IsTrue(outputs.ContainsKey(name), $"the model produced no '{name}' (it produced {string.Join(", ", outputs.Keys)})");
                    double diff = ReferenceData.MaxAbsDiff(outputs[name], reference);
                    Console.WriteLine($"{caseName} {name} [{string.Join(",", reference.shape)}] max abs diff {diff:E2}");
                    Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{caseName}: {name} differs from the reference by {diff:E3}");
                    worst = Math.Max(worst, diff);
                }
                Console.WriteLine($"{caseName}: worst max abs diff {worst:E2} (tolerance {Tolerance:E0})");
            }
            finally
            {
                foreach (var t in outputs.Values) t.Dispose();
            }
        }
        finally
        {
            foreach (var t in expected.Values) t.Dispose();
        }
    }
}
