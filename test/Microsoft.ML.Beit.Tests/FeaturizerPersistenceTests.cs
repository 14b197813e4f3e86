using System.Globalization;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Tests;

/// <summary>The featurizer in the ML.NET model zip, reloaded in this process and in a fresh one; with Cache and cross-validation.</summary>
[TestClass]
public sealed class FeaturizerPersistenceTests
{
    [TestMethod]
    public void AModelZipReloadsInAFreshProcessWithIdenticalFeatures()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            string images = Path.Combine(folder, "images");
            Directory.CreateDirectory(images);
            var paths = FeaturizerTests.WriteRandomImages(images, count: 5, width: 48, height: 36);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
                .Append(ml.Transforms.BeitFeaturize("Features", "Image",
                    new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), Pooling = BeitPooling.Cls, BatchSize = 2 }));
            var model = pipeline.Fit(data);
            var expected = ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(model.Transform(data), false).ToDictionary(r => r.Path, r => r.Features);
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, data.Schema, zip);
            Console.WriteLine($"model.zip: {new FileInfo(zip).Length:N0} bytes (weights {new FileInfo(Path.Combine(modelDir, "model.safetensors")).Length:N0})");

            // In this process.
            var reloaded = new MLContext(seed: 2).Model.Load(zip, out var schema);
            Assert.IsNotNull(schema.GetColumnOrNull("Path"));
            var again = ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(reloaded.Transform(data), false).ToList();
            foreach (var row in again) CollectionAssert.AreEqual(expected[row.Path], row.Features);

            // In a fresh process: the beit tool loads the zip with MLContext.Model.Load and no registration call.
            string csv = Path.Combine(folder, "features.csv");
            var (exitCode, stdout, stderr) = BeitToolTests.Beit("featurize", "--model", zip, "--images", images, "--output", csv);
            Console.WriteLine(stdout);
            Assert.AreEqual(0, exitCode, stderr);
            var lines = File.ReadAllLines(csv);
            Assert.HasCount(paths.Count + 1, lines);
            double worst = 0;
            foreach (var line in lines.Skip(1))
            {
                var cells = line.Split(',');
                var features = cells.Skip(1).Select(c => float.Parse(c, CultureInfo.InvariantCulture)).ToArray();
                Assert.HasCount(expected[cells[0]].Length, features, $"features of {cells[0]} in the CSV");
                worst = Math.Max(worst, features.Zip(expected[cells[0]]).Max(p => Math.Abs(p.First - p.Second)));
            }
            Console.WriteLine($"fresh process vs original features: max abs diff {worst:E2}");
            Assert.AreEqual(0.0, worst);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void WorksWithCacheAndCrossValidation()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 200));
            var featurized = ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir) })
                .Fit(data).Transform(data);
            var cached = ml.Data.Cache(featurized);
            // The cache serves the featurizer's own values, row for row (read twice: the second pass comes from the cache).
            var direct = ml.Data.CreateEnumerable<FeatureOnly>(featurized, false).ToList();
            for (int pass = 0; pass < 2; pass++)
            {
                var fromCache = ml.Data.CreateEnumerable<FeatureOnly>(cached, false).ToList();
                Assert.HasCount(direct.Count, fromCache);
                for (int i = 0; i < direct.Count; i++) CollectionAssert.AreEqual(direct[i].Features, fromCache[i].Features, $"row {i}, pass {pass + 1}");
            }
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.Transforms.NormalizeMinMax("Features"))
                .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
            var folds = ml.MulticlassClassification.CrossValidate(cached, pipeline, numberOfFolds: 3);
            foreach (var fold in folds)
                Console.WriteLine($"fold {fold.Fold}: MicroAccuracy {fold.Metrics.MicroAccuracy:F3}");
            Assert.HasCount(3, folds);
            // Measured 0.30 to 0.36 per fold (chance 0.1).
            Assert.IsTrue(folds.All(f => f.Metrics.MicroAccuracy > 0.25), "every fold learns something");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The features column alone.</summary>
    public sealed class FeatureOnly
    {
        /// <summary>The features.</summary>
        [VectorType] public float[] Features { get; set; } = [];
    }
}
