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
        options.Progress = new SyncProgress(progress.Add);
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

    public sealed class ScoreOnly
    {
        public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void AnInterruptedRunResumedFromItsCheckpointEndsLikeAnUninterruptedOne()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var train = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 160)));
            var data = train.Transform(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 160)));
            var test = train.Transform(ml.Data.LoadFromEnumerable(FashionMnist.Load("t10k", 40)));
            BeitFinetuneOptions Options(string checkpoints)
            {
                var o = TinyRecipe(epochs: 2);
                o.Augment = true;
                o.MinCropScale = 0.5;
                o.DropPath = 0.1;
                o.MixupAlpha = 0.8;
                o.CutmixAlpha = 1.0;
                o.CheckpointDirectory = checkpoints;
                o.CheckpointEverySteps = 4;
                return o;
            }
            float[] Scores(ITransformer model) => ml.Data.CreateEnumerable<ScoreOnly>(model.Transform(test), false).SelectMany(p => p.Score).ToArray();

            // 160 images in batches of 16: 10 steps an epoch, 20 in all.
            const int totalSteps = 20, stopAt = 14;
            var full = new TrainingSteps();
            var a = Options(Path.Combine(folder, "a"));
            a.Progress = full;
            using var uninterrupted = ml.MulticlassClassification.Trainers.BeitFinetune(a).Fit(data);
            var expected = Scores(uninterrupted);
            CollectionAssert.AreEqual(TrainingSteps.Range(1, totalSteps), full.Steps, "the uninterrupted run takes steps 1..20");

            string checkpoints = Path.Combine(folder, "b");
            using var cancel = new CancellationTokenSource();
            var interrupted = Options(checkpoints);
            interrupted.CancellationToken = cancel.Token;
            var before = new TrainingSteps(cancel, stopAt);
            interrupted.Progress = before;
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.BeitFinetune(interrupted).Fit(data));
            CollectionAssert.AreEqual(TrainingSteps.Range(1, stopAt), before.Steps, "the interrupted run stops after the step that cancelled it");
            // Checkpoints every 4 steps: the newest is behind the interruption, so the resumed run must redo the steps after it.
            int checkpoint = TrainingSteps.LatestCheckpointStep(checkpoints);
            Console.WriteLine($"interrupted after step {stopAt}; checkpoints: {string.Join(", ", Directory.GetDirectories(checkpoints).Select(Path.GetFileName))}; latest at step {checkpoint}");
            Assert.IsTrue(checkpoint is > 0 and < stopAt, $"the latest checkpoint (step {checkpoint}) lies inside the interrupted run");

            var resumed = Options(checkpoints);
            resumed.ResumeFrom = checkpoints;
            var after = new TrainingSteps();
            resumed.Progress = after;
            using var finished = ml.MulticlassClassification.Trainers.BeitFinetune(resumed).Fit(data);
            Console.WriteLine($"resumed run took steps {string.Join(",", after.Steps)}");
            CollectionAssert.AreEqual(TrainingSteps.Range(checkpoint + 1, totalSteps), after.Steps,
                $"the resumed run starts at the checkpoint's step + 1 ({checkpoint + 1}) and takes exactly the remaining steps");
            Assert.IsTrue(after.Reports.All(r => r.TotalSteps == totalSteps), "the resumed run knows the run's total length");
            double diff = TrainingSteps.MaxAbsDiff(expected, Scores(finished));
            Console.WriteLine($"resumed vs uninterrupted run, 20 steps with crops, flips, mixup/cutmix and stochastic depth: max abs probability difference {diff:E2}");
            Assert.IsLessThanOrEqualTo(1e-6, diff, "the same seed on the CPU repeats the run; the tolerance allows only float noise");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void LabelsThatAreNotKeysOrAreMissingAreNamed()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 20));
        var options = TinyRecipe(epochs: 1);
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(raw));
        StringAssert.Contains(error.Message, "Label column 'Label' is String, not a key; add MapValueToKey(\"Label\")");

        options.LabelColumnName = "Class";
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(raw)).Message,
            "Label column 'Class' is not in the data");

        // A label the key mapping never saw becomes the missing key: training stops naming the row.
        var mapping = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 20).Where(e => e.Label != "Bag")));
        var withUnknown = mapping.Transform(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 40)));
        options.LabelColumnName = "Label";
        var unknown = Assert.ThrowsExactly<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(withUnknown));
        Console.WriteLine(unknown.Message);
        StringAssert.Contains(unknown.Message, "has a missing label");
        StringAssert.Contains(unknown.Message, "row ");
    }

    [TestMethod]
    public void TrainingContinuesFromAModelZipAndItsBackboneFeaturizes()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var raw = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 64));
            var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw);
            var data = labels.Transform(raw);
            using var first = ml.MulticlassClassification.Trainers.BeitFinetune(TinyRecipe(epochs: 1)).Fit(data);
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(labels.Append(first), raw.Schema, zip);
            var before = ml.Data.CreateEnumerable<ScoreOnly>(first.Transform(data), false).SelectMany(r => r.Score).ToArray();

            // Continue with a learning rate too small to move the weights: the model must start where it stopped.
            var again = TinyRecipe(epochs: 1);
            again.Model = BeitModelSource.FromPath(zip);
            again.LearningRate = 1e-12;
            again.MinLearningRate = 0;
            using var continued = ml.MulticlassClassification.Trainers.BeitFinetune(again).Fit(data);
            var after = ml.Data.CreateEnumerable<ScoreOnly>(continued.Transform(data), false).SelectMany(r => r.Score).ToArray();
            double diff = TrainingSteps.MaxAbsDiff(before, after);
            Console.WriteLine($"continued from model.zip: probabilities moved by at most {diff:E2}");
            Assert.IsLessThanOrEqualTo(1e-4, diff);

            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions { Model = BeitModelSource.FromPath(zip) }).Fit(raw);
            Assert.AreEqual(64, featurizer.FeatureSize);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void StartsFromAPretrainingCheckpointWithASharedBiasAndStopsEarly()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            // A pt22k-style checkpoint: masked image modeling, one relative position table shared by all blocks.
            string pretrained = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            using var source = Checkpoints.BeitCheckpoint.Load(pretrained);
            var shared = source.Weights["beit.encoder.relative_position_bias.relative_position_bias_table"];

            var ml = new MLContext(seed: 1);
            var raw = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 96));
            var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw);
            var data = labels.Transform(raw);
            var progress = new List<BeitTrainingProgress>();
            var options = new BeitFinetuneOptions
            {
                Model = BeitModelSource.FromDirectory(pretrained),
                Epochs = 4, BatchSize = 32, LearningRate = 1e-12, MinLearningRate = 0, WarmupEpochs = 0, Seed = 3,
                ValidationSet = data, EarlyStoppingPatience = 2, Progress = new SyncProgress(progress.Add),
            };
            using var model = ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data);

            var config = model.ModelConfig;
            Assert.IsTrue(config.UseRelativePositionBias && !config.UseSharedRelativePositionBias, "fine-tuning gives every block its own table");
            var blockTable = model.TorchEngine.Model.beit.encoder.layer[2].attention.attention.relative_position_bias!.relative_position_bias_table;
            Assert.AreEqual(0.0, ReferenceData.MaxAbsDiff(blockTable.detach().cpu(), shared), "each block starts from the shared table");
            Assert.IsNotNull(model.TorchEngine.Model.beit.pooler, "mean pooling with a new LayerNorm");

            // With a learning rate too small to change anything, validation accuracy never improves after epoch 1:
            // early stopping ends the run after epoch 1 + patience 2.
            var validations = progress.Where(p => double.IsNaN(p.Loss)).ToList();
            Console.WriteLine($"validation accuracies by epoch: {string.Join(", ", validations.Select(p => $"{p.Epoch}: {p.ValidationMetric:F3}"))}");
            Assert.HasCount(3, validations, "stopped early after 3 of 4 epochs");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void TheBestEpochsWeightsAreKeptNotTheLastOnes()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 96));
        var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw);
        var data = labels.Transform(raw);
        var validation = labels.Transform(ml.Data.LoadFromEnumerable(FashionMnist.Load("t10k", 64)));
        var steps = new TrainingSteps();
        var options = TinyRecipe(epochs: 6);
        options.LearningRate = 3e-3;
        options.ValidationSet = validation;
        options.Progress = steps;
        using var model = ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data);

        var accuracies = steps.Reports.Where(r => double.IsNaN(r.Loss)).Select(r => r.ValidationMetric!.Value).ToList();
        Console.WriteLine($"validation accuracy by epoch: {string.Join(", ", accuracies.Select(a => a.ToString("F3")))}");
        Assert.HasCount(6, accuracies, "one validation per epoch");
        // The seeded run on the CPU repeats exactly; in it the last epoch is worse than the best, so keeping the last would show.
        double best = accuracies.Max();
        Assert.IsLessThan(best, accuracies[^1], "precondition: the last epoch is not the best one in this run");
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(validation));
        Console.WriteLine($"the trained model on the validation images: accuracy {metrics.MicroAccuracy:F3} (best epoch {best:F3}, last epoch {accuracies[^1]:F3})");
        Assert.AreEqual(best, metrics.MicroAccuracy, 1e-9, "the model has the best epoch's weights");
    }

    sealed class SyncProgress(Action<BeitTrainingProgress> report) : IProgress<BeitTrainingProgress>
    {
        public void Report(BeitTrainingProgress value) => report(value);
    }

    public sealed class NumericExample
    {
        public byte[] Image { get; set; } = [];
        public int Label { get; set; }
    }

    [TestMethod]
    public void NumericLabelsBecomeClassNames()
    {
        var ml = new MLContext(seed: 1);
        var examples = FashionMnist.Load("train", 48).Select(e => new NumericExample { Image = e.Image, Label = Array.IndexOf(FashionMnist.ClassNames, e.Label) });
        var raw = ml.Data.LoadFromEnumerable(examples);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BeitFinetune(TinyRecipe(epochs: 1)));
        var model = pipeline.Fit(raw);
        var scored = model.Transform(raw);
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        var names = slots.DenseValues().Select(v => v.ToString()).ToList();
        Console.WriteLine($"class names from numeric labels: {string.Join(", ", names)}");
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).Select(i => i.ToString()).ToList(), names);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.HasCount(10, metrics.PerClassLogLoss, "the evaluator sees the ten classes of the numeric labels");
    }
}
