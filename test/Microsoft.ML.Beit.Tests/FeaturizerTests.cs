using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Data;
using SkiaSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>BeitFeaturize in ML.NET pipelines: equal to the model, batched and row by row, bad input, a linear probe.</summary>
[TestClass]
public sealed class FeaturizerTests
{
    public sealed class ImagePath
    {
        public string Path { get; set; } = "";
    }

    public sealed class FeatureRow
    {
        public string Path { get; set; } = "";
        [VectorType] public float[] Features { get; set; } = [];
    }

    [TestMethod]
    public void LoadImagesThenBeitFeaturizeEqualsTheModelsOwnPooledOutput()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            // A random tiny classifier in the Hugging Face layout: what is checked is the pipeline against the model itself.
            string directory = Path.Combine(folder, "tiny-classifier");
            using (var saved = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config())))
                BeitCheckpoint.Save(saved, directory);
            string weights = Path.Combine(directory, "model.safetensors");
            var paths = WriteRandomImages(folder, count: 7, width: 32, height: 32);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePath { Path = p }));
            var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
                .Append(ml.Transforms.BeitFeaturize("Features", "Image",
                    new BeitFeaturizerOptions { Model = BeitModelSource.FromFile(weights), BatchSize = 3, Device = "cpu" }));
            using var model = pipeline.Fit(data);
            var rows = ml.Data.CreateEnumerable<FeatureRow>(model.Transform(data), reuseRowObject: false).ToList();
            Assert.HasCount(7, rows);

            using var checkpoint = BeitCheckpoint.Load(weights);
            using var classifier = (BeitForImageClassification)checkpoint.CreateModel();
            using var pixels = new BeitImageProcessor(BeitPreprocessorConfig.Pt22k(32)).ProcessBatch(paths.Select(RgbImage.Load).ToList());
            using var noGrad = no_grad();
            using var output = classifier.forward(pixels);
            double worst = 0;
            for (int i = 0; i < rows.Count; i++)
            {
                Assert.AreEqual(paths[i], rows[i].Path, "rows keep their order and their other columns");
                using var features = tensor(rows[i].Features);
                worst = Math.Max(worst, ReferenceData.MaxAbsDiff(features, output.Backbone.PoolerOutput![i]));
            }
            Console.WriteLine($"7 images in batches of 3: pipeline features vs the model's pooled output, max abs diff {worst:E2}");
            Assert.IsLessThanOrEqualTo(1e-5, worst);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [DataRow(BeitPooling.Mean, -1, 48)]
    [DataRow(BeitPooling.Cls, -1, 48)]
    [DataRow(BeitPooling.Tokens, -1, 16 * 48)]
    [DataRow(BeitPooling.Mean, 1, 48)]
    public void PredictionEngineBytesAndPathsAllGiveTheBatchedFeatures(BeitPooling pooling, int layer, int size)
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = SaveTinyMaskedImageModel(folder);
            var paths = WriteRandomImages(folder, count: 5, width: 40, height: 24);
            var ml = new MLContext(seed: 1);
            var options = new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), Pooling = pooling, Layer = layer, BatchSize = 2, NormalizeL2 = true };

            var byPath = ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePath { Path = p }));
            using var fromPaths = ml.Transforms.BeitFeaturize("Features", "Path", options).Fit(byPath);
            var batched = ml.Data.CreateEnumerable<FeatureRow>(fromPaths.Transform(byPath), false).ToList();
            Assert.AreEqual(size, fromPaths.FeatureSize);
            Assert.IsTrue(batched.All(r => r.Features.Length == size && Math.Abs(r.Features.Sum(v => v * v) - 1) < 1e-4), "unit vectors of the documented size");

            var engine = ml.Model.CreatePredictionEngine<ImagePath, FeatureRow>(fromPaths);
            var bytesData = ml.Data.LoadFromEnumerable(paths.Select(p => new EncodedImage { Path = p, Bytes = File.ReadAllBytes(p) }));
            using var fromBytes = ml.Transforms.BeitFeaturize("Features", "Bytes", options).Fit(bytesData);
            var viaBytes = ml.Data.CreateEnumerable<FeatureRow>(fromBytes.Transform(bytesData), false).ToList();
            double worst = 0;
            for (int i = 0; i < paths.Count; i++)
            {
                var single = engine.Predict(new ImagePath { Path = paths[i] });
                worst = Math.Max(worst, MaxDiff(single.Features, batched[i].Features));
                worst = Math.Max(worst, MaxDiff(viaBytes[i].Features, batched[i].Features));
            }
            Console.WriteLine($"{pooling} layer {layer}: PredictionEngine and byte input vs batched path input, max abs diff {worst:E2}");
            Assert.IsLessThanOrEqualTo(1e-5, worst);
            Assert.IsGreaterThan(1e-3, MaxDiff(batched[0].Features, batched[1].Features), "different images give different features");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public sealed class EncodedImage
    {
        public string Path { get; set; } = "";
        public byte[] Bytes { get; set; } = [];
    }

    [TestMethod]
    public void BadImagesThrowNamingTheRowOrBecomeNaNWhenSkipped()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = SaveTinyMaskedImageModel(folder);
            var good = WriteRandomImages(folder, count: 2, width: 32, height: 32);
            string empty = Path.Combine(folder, "empty.png"), corrupt = Path.Combine(folder, "corrupt.jpg"), missing = Path.Combine(folder, "missing.png");
            File.WriteAllBytes(empty, []);
            File.WriteAllBytes(corrupt, [0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]);
            string[] paths = [good[0], empty, corrupt, missing, good[1]];
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePath { Path = p }));

            var strict = ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir) });
            using var strictModel = strict.Fit(data);
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Data.CreateEnumerable<FeatureRow>(strictModel.Transform(data), false).ToList());
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "row 1 (column 'Path')");
            StringAssert.Contains(error.Message, "empty (0 bytes)");

            var lenient = ml.Transforms.BeitFeaturize("Features", "Path",
                new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), InvalidImage = BeitInvalidImageHandling.Skip });
            using var lenientModel = lenient.Fit(data);
            var rows = ml.Data.CreateEnumerable<FeatureRow>(lenientModel.Transform(data), false).ToList();
            bool[] nan = rows.Select(r => r.Features.All(float.IsNaN)).ToArray();
            CollectionAssert.AreEqual(new[] { false, true, true, true, false }, nan);
            Assert.IsTrue(rows[0].Features.All(float.IsFinite) && rows[4].Features.All(float.IsFinite));

            foreach (var (file, cause) in new[] { (corrupt, "could not be decoded"), (missing, "does not exist") })
            {
                var one = ml.Data.LoadFromEnumerable(new[] { new ImagePath { Path = file } });
                var e = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Data.CreateEnumerable<FeatureRow>(strictModel.Transform(one), false).ToList());
                Console.WriteLine(e.Message);
                StringAssert.Contains(e.Message, "row 0");
                StringAssert.Contains(e.Message, file);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void WrongColumnsAndOptionsAreNamed()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new FeatureRow() });
        var estimator = ml.Transforms.BeitFeaturize("F", "Features", new BeitFeaturizerOptions { Model = BeitModelSource.FromPath("/nowhere") });
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(data)).Message, "Input column 'Features' is Vector<Single>");
        var absent = ml.Transforms.BeitFeaturize("F", "Image", new BeitFeaturizerOptions { Model = BeitModelSource.FromPath("/nowhere") });
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => absent.Fit(data)).Message, "Input column 'Image' is not in the data");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.BeitFeaturize("F", "Path", new BeitFeaturizerOptions())).Message,
            "Model is required");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ml.Transforms.BeitFeaturize("F", "Path", new BeitFeaturizerOptions { Model = BeitModelSource.FromPath("x"), BatchSize = 0 })).Message, "BatchSize");
    }

    [TestMethod]
    public void ALinearProbeOnFeaturesLearnsFashionMnist()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = SaveTinyMaskedImageModel(folder);
            var ml = new MLContext(seed: 1);
            var train = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 600));
            var test = ml.Data.LoadFromEnumerable(FashionMnist.Load("t10k", 200));
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.Transforms.BeitFeaturize("Features", "Image",
                    new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), Pooling = BeitPooling.Tokens, Layer = 1 }))
                .Append(ml.Transforms.NormalizeMinMax("Features"))
                .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
            var model = pipeline.Fit(train);
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
            Console.WriteLine($"Linear probe on a random tiny BEiT's layer-1 tokens, 600 train / 200 test Fashion-MNIST images: " +
                $"MicroAccuracy {metrics.MicroAccuracy:F3}, MacroAccuracy {metrics.MacroAccuracy:F3}");
            Assert.IsGreaterThan(0.5, metrics.MicroAccuracy, "well above the 10% of chance");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static double MaxDiff(float[] a, float[] b)
    {
        Assert.HasCount(a.Length, b);
        return a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
    }

    /// <summary>A random tiny masked-image-modeling model (the pt22k kind: no pooler) saved in the Hugging Face layout.</summary>
    internal static string SaveTinyMaskedImageModel(string folder)
    {
        string directory = Path.Combine(folder, "tiny-mim");
        using var model = TinyModels.Randomize(new BeitForMaskedImageModeling(TinyModels.Config(sharedBias: true)));
        BeitCheckpoint.Save(model, directory);
        return directory;
    }

    /// <summary>Writes random-noise PNGs (seeded) and returns their paths.</summary>
    internal static List<string> WriteRandomImages(string folder, int count, int width, int height)
    {
        var random = new Random(42);
        var paths = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var pixels = new byte[width * height * 4];
            random.NextBytes(pixels);
            for (int p = 3; p < pixels.Length; p += 4) pixels[p] = 255;
            string path = Path.Combine(folder, $"image{i}.png");
            using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), pixels, width * 4);
            using (var png = image.Encode(SKEncodedImageFormat.Png, 100))
                File.WriteAllBytes(path, png.ToArray());
            paths.Add(path);
        }
        return paths;
    }
}
