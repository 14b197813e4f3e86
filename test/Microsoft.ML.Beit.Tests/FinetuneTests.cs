using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Tests;

/// <summary>BeitFinetune as an ML.NET multiclass trainer, on the Fashion-MNIST subset the repository ships.</summary>
[TestClass]
public sealed class FinetuneTests
{
    public sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    /// <summary>A tiny BEiT for 28x28 images: 7x7 patches (a 4x4 grid), 64 wide, 3 blocks, no layer scale.</summary>
    internal static Modeling.BeitConfig FashionArchitecture() => new()
    {
        ImageSize = 28, PatchSize = 7, HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 128,
        UseRelativePositionBias = true, LayerNormEps = 1e-6, LayerScaleInitValue = 0,
    };

    /// <summary>Training from scratch on little data: no layer decay or stochastic depth, a full-scale head, no crops.</summary>
    internal static BeitFinetuneOptions TinyRecipe(int epochs) => new()
    {
        Model = BeitModelSource.FromConfig(FashionArchitecture()),
        Epochs = epochs,
        BatchSize = 16,
        LearningRate = 1e-3,
        WarmupEpochs = 1,
        WeightDecay = 0.1,
        LayerDecay = 1.0,
        DropPath = 0.0,
        HeadInitScale = 1.0,
        Augment = false,
        Seed = 7,
        Device = "cpu",
    };

    [TestMethod]
    public void ATinyBeitLearnsFashionMnistFrom2000Images()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 2000));
        var test = ml.Data.LoadFromEnumerable(FashionMnist.Load("t10k", 500));
        var progress = new List<BeitTrainingProgress>();
        var options = TinyRecipe(epochs: 20);
        options.Progress = new Progress<BeitTrainingProgress>(progress.Add);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.BeitFinetune(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        var metrics = ml.MulticlassClassification.Evaluate(scored, predictedLabelColumnName: "PredictedLabel");
        Console.WriteLine($"tiny BEiT, 2000 train / 500 test images, {options.Epochs} epochs in {clock.Elapsed.TotalSeconds:F0} s: " +
            $"accuracy {metrics.MicroAccuracy:F3}, macro {metrics.MacroAccuracy:F3}, log-loss {metrics.LogLoss:F3}");
        foreach (var e in progress.Where(p => double.IsFinite(p.Loss)).GroupBy(p => p.Epoch))
            Console.WriteLine($"epoch {e.Key}: mean loss {e.Average(p => p.Loss):F3}, lr {e.Last().LearningRate:E2}, {e.Average(p => p.ImagesPerSecond):F0} images/s");
        Assert.IsGreaterThanOrEqualTo(0.75, metrics.MicroAccuracy);

        var predictions = ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false).Take(20).ToList();
        Assert.IsTrue(predictions.All(p => FashionMnist.ClassNames.Contains(p.PredictedLabel)), "PredictedLabel maps back to the class names");
        Assert.IsTrue(predictions.All(p => Math.Abs(p.Score.Sum() - 1) < 1e-4), "Score holds probabilities");
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        CollectionAssert.AreEquivalent(FashionMnist.ClassNames, slots.DenseValues().Select(s => s.ToString()).ToArray());
    }
}
