using TorchSharp;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Scoring owns its native memory: every tensor it makes lives in a dispose scope, so LibTorch memory is freed when a batch
/// ends rather than when a finalizer happens to run (DESIGN.md: "every tensor lives in a dispose scope; long runs keep flat
/// memory"). The benchmarks project measures the resident memory this keeps flat; this test checks the cause, without timing.
/// </summary>
[TestClass]
public sealed class NativeMemoryTests
{
    [TestMethod]
    public void FeaturizingThroughCursorsAndPredictionEnginesCreatesNoTensorOutsideADisposeScope()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 5, width: 40, height: 24);
            var ml = new MLContext(seed: 1);
            var rows = Enumerable.Range(0, 40).Select(i => new FeaturizerTests.ImagePath { Path = paths[i % paths.Count] });
            var data = ml.Data.LoadFromEnumerable(rows);
            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Path",
                new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), BatchSize = 4 }).Fit(data);
            var engine = ml.Model.CreatePredictionEngine<FeaturizerTests.ImagePath, FeaturizerTests.FeatureRow>(featurizer);

            // The statistics are per thread; cursors and PredictionEngines score on the calling thread.
            var statistics = DisposeScopeManager.Statistics.TensorStatistics;
            long outsideBefore = statistics.CreatedOutsideScopeCount, insideBefore = statistics.CreatedInScopeCount;
            int featurized = ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(featurizer.Transform(data), false).Count(r => r.Features.Length == 48);
            for (int i = 0; i < 20; i++) engine.Predict(new FeaturizerTests.ImagePath { Path = paths[i % paths.Count] });
            long outside = statistics.CreatedOutsideScopeCount - outsideBefore, inside = statistics.CreatedInScopeCount - insideBefore;

            Console.WriteLine($"40 rows through a cursor and 20 PredictionEngine calls: {inside} tensors created in dispose scopes, {outside} outside");
            Assert.AreEqual(40, featurized);
            Assert.IsGreaterThan(0L, inside, "the scoring ran on this thread and its tensors were counted");
            Assert.AreEqual(0L, outside, "tensors created outside any dispose scope are freed only by the finalizer");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
