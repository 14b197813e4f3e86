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
}
