namespace Microsoft.ML.Beit.Tests;

/// <summary><see cref="BeitTrainingOptions.LogDirectory"/>: the training curves as TensorBoard event files.</summary>
[TestClass]
public sealed class TensorBoardLogTests
{
    [TestMethod]
    public void FineTuningWritesLossLearningRateThroughputAndValidationAtTheirSteps()
    {
        string logs = Path.Combine(TinyModels.TempDirectory(), "runs", "tiny");
        try
        {
            var ml = new MLContext(seed: 1);
            var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 32)));
            var progress = new List<BeitTrainingProgress>();
            var options = FinetuneTests.TinyRecipe(epochs: 2);
            options.ValidationSet = keys.Transform(ml.Data.LoadFromEnumerable(FashionMnist.Load("t10k", 16)));
            options.LogDirectory = logs;
            options.Progress = new Reports(progress.Add);
            var started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            using var model = ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(keys.Transform(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 32))));

            var events = TensorBoardEvents.Read(logs);
            Assert.AreEqual("brain.Event:2", events[0].FileVersion, "an event file starts with its version");
            var scalars = TensorBoardEvents.Scalars(logs);
            foreach (var (tag, points) in scalars) Console.WriteLine($"{tag}: {string.Join(", ", points.Select(p => $"{p.Step}={p.Value:G4}"))}");

            // 32 images in batches of 16, two epochs: four optimizer steps, a validation after steps 2 and 4.
            var steps = progress.Where(p => double.IsFinite(p.Loss)).ToList();
            var validations = progress.Where(p => double.IsNaN(p.Loss)).ToList();
            Assert.HasCount(4, steps);
            CollectionAssert.AreEqual(steps.Select(p => ((long)p.Step, (float)p.Loss)).ToList(), scalars["train/loss"]);
            CollectionAssert.AreEqual(steps.Select(p => ((long)p.Step, (float)p.LearningRate)).ToList(), scalars["train/learning_rate"]);
            CollectionAssert.AreEqual(steps.Select(p => ((long)p.Step, (float)p.ImagesPerSecond)).ToList(), scalars["train/images_per_second"]);
            Assert.IsTrue(scalars["train/images_per_second"].All(p => p.Value > 0));
            CollectionAssert.AreEqual(validations.Select(p => ((long)p.Step, (float)p.ValidationMetric!.Value)).ToList(), scalars["validation/metric"]);
            CollectionAssert.AreEqual(new long[] { 2, 4 }, scalars["validation/metric"].Select(p => p.Step).ToList());
            Assert.IsFalse(scalars.ContainsKey("train/metric"), "fine-tuning has no training metric");
            Assert.IsTrue(events.Where(e => e.Scalars.Count > 0).All(e => e.WallTime >= started - 1 && e.WallTime <= DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1),
                "wall times are seconds since 1970, as TensorBoard reads them");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(logs))!, recursive: true);
        }
    }

    sealed class Reports(Action<BeitTrainingProgress> report) : IProgress<BeitTrainingProgress>
    {
        public void Report(BeitTrainingProgress value) => report(value);
    }
}
