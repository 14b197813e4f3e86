namespace Microsoft.ML.Beit.Tests;

/// <summary>Several threads with their own PredictionEngine, and several cursors over one scored view, all give the batched features.</summary>
[TestClass]
public sealed class ConcurrencyTests
{
    [TestMethod]
    [DataRow(BeitBackend.TorchSharp)]
    [DataRow(BeitBackend.Onnx)]
    public void ThreadsWithTheirOwnPredictionEnginesAndInterleavedCursorsAgree(BeitBackend backend)
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 12, width: 40, height: 24);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Path",
                new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), BatchSize = 4, Backend = backend }).Fit(data);
            var scored = featurizer.Transform(data);
            var expected = ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(scored, false).Select(r => r.Features).ToList();

            // Four threads, each with its own engine, each scoring every image three times in its own order.
            var worst = new double[4];
            Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
            {
                var engine = ml.Model.CreatePredictionEngine<FeaturizerTests.ImagePath, FeaturizerTests.FeatureRow>(featurizer);
                var order = Enumerable.Range(0, paths.Count).OrderBy(i => (i * 7 + t * 5) % paths.Count).ToList();
                for (int round = 0; round < 3; round++)
                    foreach (int i in order)
                        worst[t] = Math.Max(worst[t], MaxDiff(engine.Predict(new FeaturizerTests.ImagePath { Path = paths[i] }).Features, expected[i]));
            });

            // Two cursors over the same scored view, advanced in turn.
            using var a = scored.GetRowCursor(scored.Schema);
            using var b = scored.GetRowCursor(scored.Schema);
            var getA = a.GetGetter<Data.VBuffer<float>>(scored.Schema["Features"]);
            var getB = b.GetGetter<Data.VBuffer<float>>(scored.Schema["Features"]);
            Data.VBuffer<float> va = default, vb = default;
            double cursors = 0;
            for (int i = 0; i < paths.Count; i++)
            {
                Assert.IsTrue(a.MoveNext());
                getA(ref va);
                Assert.IsTrue(b.MoveNext());
                getB(ref vb);
                cursors = Math.Max(cursors, Math.Max(MaxDiff(va.DenseValues().ToArray(), expected[i]), MaxDiff(vb.DenseValues().ToArray(), expected[i])));
            }
            Console.WriteLine($"{backend}: 4 threads x 36 predictions: worst max abs diff {worst.Max():E2}; two interleaved cursors: {cursors:E2}");
            Assert.IsLessThanOrEqualTo(1e-5, worst.Max());
            Assert.IsLessThanOrEqualTo(1e-5, cursors);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static double MaxDiff(float[] a, float[] b)
    {
        Assert.HasCount(b.Length, a, "as many features as the single-threaded run");
        return a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
    }
}
