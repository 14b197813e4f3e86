using System.Text.Json.Nodes;
using Microsoft.ML.Beit.Modeling;

namespace Microsoft.ML.Beit.Tests;

[TestClass]
public sealed class BeitConfigTests
{
    [TestMethod]
    public void LargePresetMatchesThePt22kCheckpoint()
    {
        var large = BeitConfig.Large;
        Assert.AreEqual(1024, large.HiddenSize);
        Assert.AreEqual(24, large.NumHiddenLayers);
        Assert.AreEqual(16, large.NumAttentionHeads);
        Assert.AreEqual(4096, large.IntermediateSize);
        Assert.IsTrue(large.UseSharedRelativePositionBias);
        Assert.IsFalse(large.UseRelativePositionBias);
        Assert.IsTrue(large.UseMaskToken);
        Assert.IsTrue(large.UseMeanPooling);
        Assert.AreEqual(8192, large.VocabSize);
        Assert.AreEqual(1e-12, large.LayerNormEps);
        Assert.AreEqual(0.1, large.LayerScaleInitValue);
        Assert.AreEqual(0.1, large.DropPathRate);
        Assert.AreEqual(14, large.PatchGridSize);
        Assert.AreEqual(768, BeitConfig.Base.HiddenSize);
        Assert.AreEqual(12, BeitConfig.Base.NumAttentionHeads);
    }

    [TestMethod]
    public void JsonRoundTripKeepsEveryFieldIncludingUnknownOnes()
    {
        var json = JsonNode.Parse(BeitConfig.Large.ToJson())!.AsObject();
        json["transformers_version"] = "4.99.0";
        json["torch_dtype"] = "float32";
        var parsed = BeitConfig.FromJson(json.ToJsonString());
        string written = parsed.ToJson();
        Assert.IsTrue(JsonNode.DeepEquals(json, JsonNode.Parse(written)), written);
        StringAssert.Contains(written, "\"use_shared_relative_position_bias\": true");
        StringAssert.Contains(written, "\"transformers_version\": \"4.99.0\"");
    }

    [TestMethod]
    public void ReferenceHuggingFaceConfigRoundTrips()
    {
        string path = Path.Combine(ReferenceData.Case("hf-layout-tiny"), "config.json");
        var original = JsonNode.Parse(File.ReadAllText(path));
        var config = BeitConfig.Load(path);
        Assert.AreEqual(48, config.HiddenSize);
        Assert.AreEqual(1e-6, config.LayerNormEps);
        Assert.AreEqual(5, config.NumLabels);
        Assert.AreEqual("class_4", config.Id2Label![4]);
        // Every field of the original comes back with its value; fields it omitted are written with Hugging Face's defaults.
        var written = JsonNode.Parse(config.ToJson())!.AsObject();
        foreach (var (key, value) in original!.AsObject())
            Assert.IsTrue(JsonEquivalent(value, written[key]), $"{key}: {value?.ToJsonString()} became {written[key]?.ToJsonString()}");
        Assert.AreEqual(config.ToJson(), BeitConfig.FromJson(config.ToJson()).ToJson(), "writing is stable");
    }

    // Numbers compare by value (1e-06 and 1E-06, 0.0 and 0 are the same number).
    static bool JsonEquivalent(JsonNode? a, JsonNode? b) => (a, b) switch
    {
        (JsonValue x, JsonValue y) when x.GetValueKind() == System.Text.Json.JsonValueKind.Number =>
            y.GetValueKind() == System.Text.Json.JsonValueKind.Number && x.GetValue<double>() == y.GetValue<double>(),
        (JsonObject x, JsonObject y) => x.Count == y.Count && x.All(p => JsonEquivalent(p.Value, y[p.Key])),
        (JsonArray x, JsonArray y) => x.Count == y.Count && x.Zip(y).All(p => JsonEquivalent(p.First, p.Second)),
        _ => JsonNode.DeepEquals(a, b),
    };

    [TestMethod]
    public void InconsistentSizesAreRejectedWithTheValues()
    {
        var json = JsonNode.Parse(BeitConfig.Base.ToJson())!.AsObject();
        json["hidden_size"] = 770;
        var error = Assert.ThrowsExactly<InvalidDataException>(() => BeitConfig.FromJson(json.ToJsonString()));
        StringAssert.Contains(error.Message, "hidden size 770 is not divisible by 12 attention heads");

        json = JsonNode.Parse(BeitConfig.Base.ToJson())!.AsObject();
        json["model_type"] = "vit";
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => BeitConfig.FromJson(json.ToJsonString())).Message, "model_type 'vit'");

        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => BeitConfig.FromPreset("huge")).Message, "tiny, base, large");
    }
}
