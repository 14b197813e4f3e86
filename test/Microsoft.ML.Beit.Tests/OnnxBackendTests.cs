using System.IO.Compression;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// <c>Backend = Onnx</c>: featurizers, classifiers and segmenters that score through ONNX Runtime give TorchSharp's results,
/// save the ONNX graph instead of the weights, and reload from the zip.
/// </summary>
[TestClass]
public sealed class OnnxBackendTests
{
    const double Tolerance = OnnxRuntimeScoring.Tolerance;

    [TestMethod]
    public void FeaturizerOnOnnxRuntimeGivesTorchSharpsFeaturesAndReloadsFromItsZip()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 5, width: 48, height: 36);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            ITransformer Fit(BeitBackend backend) => ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromDirectory(modelDir), Pooling = BeitPooling.Mean, NormalizeL2 = true, BatchSize = 2, Backend = backend,
            }).Fit(data);
            float[][] Features(ITransformer model) => ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(model.Transform(data), false).Select(r => r.Features).ToArray();

            using var torch = (BeitFeaturizerTransformer)Fit(BeitBackend.TorchSharp);
            using var onnx = (BeitFeaturizerTransformer)Fit(BeitBackend.Onnx);
            Assert.AreEqual(BeitBackend.Onnx, onnx.Backend);
            var expected = Features(torch);
            var actual = Features(onnx);
            AssertClose("featurizer (Mean, L2), ONNX Runtime vs TorchSharp", expected, actual, Tolerance);

            string zip = Path.Combine(folder, "onnx-featurizer.zip");
            ml.Model.Save(onnx, data.Schema, zip);
            var entries = ZipEntries(zip);
            Console.WriteLine($"zip entries: {string.Join(", ", entries)}");
            Assert.IsTrue(entries.Any(e => e.EndsWith("BeitOnnx", StringComparison.Ordinal)), "the zip holds the ONNX graph");
            Assert.IsFalse(entries.Any(e => e.EndsWith("BeitWeights", StringComparison.Ordinal)), "and not the TorchSharp weights");

            using var reloaded = (BeitFeaturizerTransformer)new MLContext(seed: 2).Model.Load(zip, out _);
            Assert.AreEqual(BeitBackend.Onnx, reloaded.Backend);
            AssertClose("featurizer reloaded from its zip vs before saving", actual, Features(reloaded), 1e-6);

            var engine = ml.Model.CreatePredictionEngine<FeaturizerTests.ImagePath, FeaturizerTests.FeatureRow>(reloaded);
            AssertClose("PredictionEngine, one row", [expected[3]], [engine.Predict(new FeaturizerTests.ImagePath { Path = paths[3] }).Features], Tolerance);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public sealed class Prediction
    {
        public string Path { get; set; } = "";
        [VectorType] public float[] Score { get; set; } = [];
        [KeyType(4)] public uint PredictedLabel { get; set; }
    }

    [TestMethod]
    public void ClassifierChainMovedToOnnxRuntimePredictsLikeTorchSharpAndReloads()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 6, width: 40, height: 40);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var loader = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path").Fit(data);
            var network = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config(labels: 4)));
            using var classifier = new BeitImageClassificationTransformer(ml,
                new Classification.BeitClassifierEngine(network, BeitPreprocessorConfig.Pt22k(32), "cpu"),
                "Image", "Score", "PredictedLabel", batchSize: 4, BeitInvalidImageHandling.Throw);
            var torch = new TransformerChain<ITransformer>(loader, classifier);

            var onnx = ml.Model.ToOnnxBackend(torch, device: "cpu", threads: 1);
            var converted = ((IEnumerable<ITransformer>)onnx).OfType<BeitImageClassificationTransformer>().Single();
            Assert.AreEqual(BeitBackend.Onnx, converted.Backend);
            Assert.AreEqual(BeitBackend.TorchSharp, classifier.Backend, "the original keeps its TorchSharp model");
            CollectionAssert.AreEqual(classifier.LabelNames.ToList(), converted.LabelNames.ToList());

            List<Prediction> Predict(ITransformer model) => ml.Data.CreateEnumerable<Prediction>(model.Transform(data), false).ToList();
            var expected = Predict(torch);
            var actual = Predict(onnx);
            AssertClose("classifier Score, ONNX Runtime vs TorchSharp", expected.Select(p => p.Score).ToArray(), actual.Select(p => p.Score).ToArray(), Tolerance);
            CollectionAssert.AreEqual(expected.Select(p => p.PredictedLabel).ToList(), actual.Select(p => p.PredictedLabel).ToList(), "same predicted labels");

            string zip = Path.Combine(folder, "onnx-classifier.zip");
            ml.Model.Save(onnx, data.Schema, zip);
            converted.Dispose();
            var reloaded = new MLContext(seed: 2).Model.Load(zip, out _);
            try
            {
                var again = Predict(reloaded);
                AssertClose("classifier reloaded from its zip vs before saving", actual.Select(p => p.Score).ToArray(), again.Select(p => p.Score).ToArray(), 1e-6);
                var reloadedClassifier = ((IEnumerable<ITransformer>)reloaded).OfType<BeitImageClassificationTransformer>().Single();
                Assert.AreEqual(BeitBackend.Onnx, reloadedClassifier.Backend);
                var error = Assert.Throws<NotSupportedException>(() => reloadedClassifier.SaveCheckpoint(Path.Combine(folder, "checkpoint")));
                Console.WriteLine($"SaveCheckpoint on the ONNX backend: {error.Message}");
                StringAssert.Contains(error.Message, "ONNX Runtime");

                // An ONNX-backed zip is no starting point for training: it holds the graph, not TorchSharp weights.
                var refused = Assert.Throws<InvalidDataException>(() => BeitModelSource.FromPath(zip).Load().Dispose());
                Console.WriteLine($"As a checkpoint: {refused.Message}");
                StringAssert.Contains(refused.Message, "Backend = Onnx");
            }
            finally
            {
                foreach (var t in (IEnumerable<ITransformer>)reloaded) (t as IDisposable)?.Dispose();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public sealed class MaskRow
    {
        public string Path { get; set; } = "";
        [VectorType] public uint[] PredictedMask { get; set; } = [];
        [VectorType] public float[] Probabilities { get; set; } = [];
    }

    [TestMethod]
    public void SegmenterOnOnnxRuntimeGivesTorchSharpsMasksThroughSlidingWindows()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            // Larger than the 32-pixel crop and not square: several windows, and a resize back to each image's own size.
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 3, width: 57, height: 41);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var network = TinyModels.Randomize(new BeitForSemanticSegmentation(TinyModels.SegmentationConfig(classes: 3)));
            var engine = new BeitSegmentationEngine(network, BeitPreprocessorConfig.Pt22k(32), cropSize: 32, device: "cpu", batchSize: 2);
            using var torch = new BeitSemanticSegmentationTransformer(ml, engine, "Path", "PredictedMask", "Probabilities", batchSize: 2,
                BeitInvalidImageHandling.Throw, ignoreIndex: 255, reduceLabels: false);
            using var onnx = torch.ToOnnxBackend("cpu");

            List<MaskRow> Predict(ITransformer model) => ml.Data.CreateEnumerable<MaskRow>(model.Transform(data), false).ToList();
            var expected = Predict(torch);
            var actual = Predict(onnx);
            Assert.AreEqual(57 * 41, actual[0].PredictedMask.Length, "one class per input pixel");
            AssertClose("segmenter probabilities, ONNX Runtime vs TorchSharp", expected.Select(r => r.Probabilities).ToArray(), actual.Select(r => r.Probabilities).ToArray(), Tolerance);
            int pixels = expected.Sum(r => r.PredictedMask.Length);
            Assert.HasCount(expected.Count, actual, "a row per image from both engines");
            Assert.IsTrue(expected.Zip(actual).All(p => p.First.PredictedMask.Length == p.Second.PredictedMask.Length), "masks of the same sizes");
            int differ = expected.Zip(actual).Sum(p => p.First.PredictedMask.Zip(p.Second.PredictedMask).Count(m => m.First != m.Second));
            Console.WriteLine($"mask pixels that differ: {differ} of {pixels}");
            // Only a near-tie between two classes may flip with float rounding.
            Assert.IsLessThanOrEqualTo(pixels / 1000, differ, "the masks agree");

            string zip = Path.Combine(folder, "onnx-segmenter.zip");
            ml.Model.Save(onnx, data.Schema, zip);
            using var reloaded = (BeitSemanticSegmentationTransformer)new MLContext(seed: 2).Model.Load(zip, out _);
            Assert.AreEqual(BeitBackend.Onnx, reloaded.Backend);
            var again = Predict(reloaded);
            CollectionAssert.AreEqual(actual.SelectMany(r => r.PredictedMask).ToList(), again.SelectMany(r => r.PredictedMask).ToList(), "the reloaded zip gives the same masks");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [DataRow(BeitPooling.Mean, 2, false)]
    [DataRow(BeitPooling.Cls, 1, true)]
    [DataRow(BeitPooling.Tokens, 0, false)]
    [DataRow(BeitPooling.ClsAttention, -1, false)]
    [DataRow(BeitPooling.ClsAttention, 1, true)]
    public void EveryFeaturizerLayerAndPoolingRunsOnOnnxRuntime(BeitPooling pooling, int layer, bool normalizeL2)
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 3, width: 40, height: 33);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var options = new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), Pooling = pooling, Layer = layer, NormalizeL2 = normalizeL2, Device = "cpu" };
            using var torch = ml.Transforms.BeitFeaturize("Features", "Path", options).Fit(data);
            using var onnx = torch.ToOnnxBackend("cpu");
            Assert.AreEqual(torch.FeatureSize, onnx.FeatureSize);
            float[][] Features(ITransformer model) => ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(model.Transform(data), false).Select(r => r.Features).ToArray();
            AssertClose($"featurizer {pooling}, layer {layer}, L2 {normalizeL2}: ONNX Runtime vs TorchSharp", Features(torch), Features(onnx), Tolerance);

            string zip = Path.Combine(folder, "featurizer.zip");
            ml.Model.Save(onnx, data.Schema, zip);
            using var reloaded = (BeitFeaturizerTransformer)new MLContext(seed: 2).Model.Load(zip, out _);
            AssertClose("reloaded", Features(onnx), Features(reloaded), 1e-6);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void OnnxBackendRefusesWhatItCannotRunWithTheReason()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(FeaturizerTests.WriteRandomImages(folder, 1, 32, 32).Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var model = BeitModelSource.FromDirectory(modelDir);

            // This machine's ONNX Runtime package is the CPU one: CUDA is refused with what to reference instead.
            using var torch = ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions { Model = model, Device = "cpu" }).Fit(data);
            var cuda = Assert.Throws<ArgumentException>(() => torch.ToOnnxBackend("cuda"));
            Console.WriteLine(cuda.Message);
            StringAssert.Contains(cuda.Message, "Microsoft.ML.OnnxRuntime.Gpu");

            var device = Assert.Throws<ArgumentException>(() => Onnx.BeitOnnxSession.Create([], "tpu", null));
            Console.WriteLine(device.Message);
            StringAssert.Contains(device.Message, "tpu");

            // Converting twice is converting once; an ONNX-backed transformer has no TorchSharp model to export again.
            using var onnx = torch.ToOnnxBackend("cpu");
            Assert.AreSame(onnx, ml.Model.ToOnnxBackend(onnx));
            var again = Assert.Throws<NotSupportedException>(() => onnx.ToOnnxBackend());
            Console.WriteLine(again.Message);
            var none = Assert.Throws<ArgumentException>(() => ml.Model.ToOnnxBackend(ml.Transforms.CopyColumns("A", "Path").Fit(data)));
            StringAssert.Contains(none.Message, "no BEiT transformer");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static List<string> ZipEntries(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        return archive.Entries.Select(e => e.FullName).ToList();
    }

    static void AssertClose(string what, float[][] expected, float[][] actual, double tolerance)
    {
        Assert.HasCount(expected.Length, actual, $"{what}: rows");
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.HasCount(expected[i].Length, actual[i], $"{what}: row {i} length");
            for (int j = 0; j < expected[i].Length; j++) worst = Math.Max(worst, Math.Abs(expected[i][j] - actual[i][j]));
        }
        Console.WriteLine($"{what}: {expected.Length} rows of {expected[0].Length}, max abs diff {worst:E2}");
        Assert.IsLessThanOrEqualTo(tolerance, worst, $"{what}: max abs diff {worst:E3}");
    }
}
