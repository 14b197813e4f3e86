using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Segmentation;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// BEiT segmentation as a user trains it: canvases composed from the shipped Fashion-MNIST subset, a tiny model
/// fitted through <c>mlContext.SemanticSegmentation()</c>, evaluated, saved into the model zip and reloaded; bad label maps give clear errors.
/// </summary>
[TestClass]
public sealed class SegmentationTrainingTests
{
    /// <summary>One row: an image path and its label-map path.</summary>
    public sealed class Row
    {
        /// <summary>The image.</summary>
        public string Image { get; set; } = "";
        /// <summary>The label map (gray values = class ids).</summary>
        public string Label { get; set; } = "";
    }

    // Trouser, Bag and Ankle boot: three shapes a tiny model tells apart within the test budget.
    static FashionMnistCanvasSet Canvases(string root, int training = 240, int validation = 40) => FashionMnistCanvases.Generate(new FashionMnistCanvasOptions
    {
        SourceFolder = FashionMnist.Directory,
        OutputFolder = root,
        CanvasSize = 32,
        TrainingCanvases = training,
        ValidationCanvases = validation,
        Classes = [1, 8, 9],
        Seed = 3,
    });

    static IDataView Load(MLContext ml, string root, string split) =>
        ml.Data.LoadFromEnumerable(SegmentationFolder.Read(root, split).Select(s => new Row { Image = s.ImagePath, Label = s.LabelPath }).ToList());

    static BeitSegmentationOptions TinyOptions(IReadOnlyList<string> classes, int epochs) => new()
    {
        Model = BeitModelSource.FromConfig(new BeitConfig
        {
            ImageSize = 32, PatchSize = 8, HiddenSize = 48, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 96,
            UseRelativePositionBias = true, LayerNormEps = 1e-6, LayerScaleInitValue = 0, AuxiliaryChannels = 24,
        }),
        ClassNames = classes,
        Epochs = epochs,
        BatchSize = 16,
        LearningRate = 2e-3,
        LayerDecay = 1.0,
        DropPath = 0,
        WarmupEpochs = 1,
        Seed = 5,
    };

    [TestMethod]
    public void TinyModelSegmentsFashionCanvasesAndReloadsFromTheZip()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var set = Canvases(root);
            var ml = new MLContext(seed: 1);
            var train = Load(ml, root, "training");
            var validation = Load(ml, root, "validation");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var model = ml.SemanticSegmentation().Trainers.Beit(TinyOptions(set.ClassNames, epochs: 16)).Fit(train);
            var metrics = ml.SemanticSegmentation().Evaluate(model.Transform(validation));
            Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s on {set.TrainingCanvases} canvases; on {set.ValidationCanvases} held-out canvases:");
            Console.WriteLine(metrics);
            Assert.IsGreaterThanOrEqualTo(0.5, metrics.MeanIoU, $"mIoU {metrics.MeanIoU:F3}");

            string zip = Path.Combine(root, "segmenter.zip");
            ml.Model.Save(model, train.Schema, zip);
            var reloaded = ml.Model.Load(zip, out _);
            var again = ml.SemanticSegmentation().Evaluate(reloaded.Transform(validation));
            Console.WriteLine($"reloaded from the zip: mIoU {again.MeanIoU:F4}");
            Assert.AreEqual(metrics.MeanIoU, again.MeanIoU, 1e-9);
            (reloaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    public sealed class MaskScores
    {
        public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void ReduceLabelsTrainsOnTheObjectsAloneAndTheAuxiliaryHeadTakesPartInTraining()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var set = Canvases(root, training: 32, validation: 8);
            var ml = new MLContext(seed: 1);
            var train = Load(ml, root, "training");
            var validation = Load(ml, root, "validation");

            // ReduceLabels: background (0) is ignored and ids 1..3 become classes 0..2, so three names fit the maps;
            // without it the maps' id 3 is not a class.
            var objects = set.ClassNames.Skip(1).ToList();
            var reduced = TinyOptions(objects, epochs: 1);
            reduced.ReduceLabels = true;
            using (var model = ml.SemanticSegmentation().Trainers.Beit(reduced).Fit(train))
            {
                var metrics = ml.SemanticSegmentation().Evaluate(model.Transform(validation), reduceLabels: true);
                Console.WriteLine($"ReduceLabels: classes {string.Join(", ", model.ClassNames)}; mIoU {metrics.MeanIoU:F3}");
                CollectionAssert.AreEqual(objects, model.ClassNames.ToList());
                Assert.HasCount(3, metrics.PerClassIoU);
            }
            var error = Assert.Throws<Exception>(() => ml.SemanticSegmentation().Trainers.Beit(TinyOptions(objects, epochs: 1)).Fit(train));
            Console.WriteLine($"without ReduceLabels: {error.Message}");

            // The auxiliary head's loss reaches the backbone: with and without it, the same seeded run ends elsewhere.
            float[] Scores(bool auxiliary, out bool hasHead)
            {
                var o = TinyOptions(set.ClassNames, epochs: 3);
                o.AuxiliaryHead = auxiliary;
                o.ScoreColumnName = "Score";
                using var model = ml.SemanticSegmentation().Trainers.Beit(o).Fit(train);
                hasHead = model.ModelConfig.UseAuxiliaryHead;
                return ml.Data.CreateEnumerable<MaskScores>(model.Transform(validation), false).SelectMany(r => r.Score).ToArray();
            }
            var with = Scores(true, out bool withHead);
            var without = Scores(false, out bool withoutHead);
            double diff = TrainingSteps.MaxAbsDiff(with, without);
            Console.WriteLine($"with vs without the auxiliary head, three epochs: max abs score difference {diff:E2}");
            Assert.IsTrue(withHead && !withoutHead, "the option decides whether the model has the head");
            Assert.IsGreaterThan(1e-4, diff, "the auxiliary loss changed the training");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void CropSizeSetsTheTrainingCropOfANewModelAndItsInferenceWindow()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var set = Canvases(root, training: 16, validation: 2);
            var ml = new MLContext(seed: 1);
            var train = Load(ml, root, "training");
            // 32x32 canvases, a new model trained on 16x16 crops: its image size is the crop, and it still masks whole
            // canvases (sliding 16x16 windows), one class per input pixel.
            var options = TinyOptions(set.ClassNames, epochs: 1);
            options.CropSize = 16;
            using var model = ml.SemanticSegmentation().Trainers.Beit(options).Fit(train);
            Assert.AreEqual(16, model.ModelConfig.ImageSize);
            var canvases = SegmentationFolder.Read(root, "validation").Select(s => Preprocessing.RgbImage.Load(s.ImagePath)).ToList();
            var masks = model.PredictMasks(canvases);
            Console.WriteLine($"CropSize 16: model image size {model.ModelConfig.ImageSize}; masks of {string.Join(", ", masks.Select(m => m.Length))} pixels for 32x32 canvases");
            Assert.IsTrue(masks.All(m => m.Length == 32 * 32), "a class per canvas pixel");

            // A checkpoint keeps its image size: another crop is refused, naming both sizes.
            string checkpoint = Path.Combine(root, "checkpoint");
            Checkpoints.BeitCheckpoint.Save(model.TorchEngine.Model, checkpoint);
            var again = TinyOptions(set.ClassNames, epochs: 1);
            again.Model = BeitModelSource.FromDirectory(checkpoint);
            again.CropSize = 32;
            var error = Assert.Throws<ArgumentException>(() => ml.SemanticSegmentation().Trainers.Beit(again).Fit(train));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "CropSize 32 differs from the checkpoint's image size 16");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void ALastBatchOfOneImageLeavesBatchNormFiniteAndBadOptionsAreNamed()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var set = Canvases(root, training: 17, validation: 4);   // 17 = 2 x 8 + 1: the last batch would hold one image
            var ml = new MLContext(seed: 1);
            var options = TinyOptions(set.ClassNames, epochs: 1);
            options.BatchSize = 8;
            using var model = ml.SemanticSegmentation().Trainers.Beit(options).Fit(Load(ml, root, "training"));
            bool finite = model.TorchEngine.Model.named_buffers().All(b => !b.buffer.is_floating_point() || b.buffer.isfinite().all().item<bool>());
            var metrics = ml.SemanticSegmentation().Evaluate(model.Transform(Load(ml, root, "validation")));
            Console.WriteLine($"17 images in batches of 8: BatchNorm statistics finite {finite}; validation mIoU {metrics.MeanIoU:F3}");
            Assert.IsTrue(finite);
            Assert.IsFalse(double.IsNaN(metrics.MeanIoU));

            options.BatchSize = 1;
            var small = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.SemanticSegmentation().Trainers.Beit(options));
            StringAssert.Contains(small.Message, "at least 2");
            options.BatchSize = 8;
            options.IgnoreIndex = 2;
            var ignore = Assert.ThrowsExactly<ArgumentException>(() => ml.SemanticSegmentation().Trainers.Beit(options).Fit(Load(ml, root, "training")));
            Console.WriteLine(ignore.Message);
            StringAssert.Contains(ignore.Message, "IgnoreIndex 2");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void LabelMapsOfTheWrongSizeOrWithUnknownClassesAreNamed()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var set = Canvases(root, training: 8, validation: 2);
            var ml = new MLContext(seed: 1);
            var rows = SegmentationFolder.Read(root, "training").Select(s => new Row { Image = s.ImagePath, Label = s.LabelPath }).ToList();

            // A label map of the wrong size.
            string small = Path.Combine(root, "small.png");
            SegmentationLabelMap.Write(small, new byte[10 * 10], 10, 10);
            var wrongSize = rows.Select((r, i) => i == 3 ? new Row { Image = r.Image, Label = small } : r).ToList();
            var error = Assert.ThrowsExactly<InvalidOperationException>(() =>
                ml.SemanticSegmentation().Trainers.Beit(TinyOptions(set.ClassNames, epochs: 1)).Fit(ml.Data.LoadFromEnumerable(wrongSize)).Dispose());
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "10x10");
            StringAssert.Contains(error.Message, "32x32");

            // A label beyond the classes (4 classes: 0..3).
            string unknown = Path.Combine(root, "unknown.png");
            var labels = new byte[32 * 32];
            labels[100] = 9;
            SegmentationLabelMap.Write(unknown, labels, 32, 32);
            var badClass = rows.Select(r => new Row { Image = r.Image, Label = unknown }).ToList();
            var classError = Assert.Throws<Exception>(() =>
                ml.SemanticSegmentation().Trainers.Beit(TinyOptions(set.ClassNames, epochs: 1)).Fit(ml.Data.LoadFromEnumerable(badClass)).Dispose());
            Console.WriteLine(classError.Message);
            StringAssert.Contains(classError.Message, "label 9");

            // A 16-bit label map: decoded as 8 bits, its ids would silently change.
            string deep = Path.Combine(root, "deep.png");
            File.WriteAllBytes(deep, Sixteen32x32());
            var deepRows = rows.Select(r => new Row { Image = r.Image, Label = deep }).ToList();
            var deepError = Assert.Throws<Exception>(() =>
                ml.SemanticSegmentation().Trainers.Beit(TinyOptions(set.ClassNames, epochs: 1)).Fit(ml.Data.LoadFromEnumerable(deepRows)).Dispose());
            Console.WriteLine(deepError.Message);
            StringAssert.Contains(deepError.Message, "16-bit");

            // A missing label column.
            var options = TinyOptions(set.ClassNames, epochs: 1);
            options.LabelColumnName = "Mask";
            var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
                ml.SemanticSegmentation().Trainers.Beit(options).Fit(ml.Data.LoadFromEnumerable(rows)));
            StringAssert.Contains(missing.Message, "'Mask'");
            Console.WriteLine(missing.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // A 32x32 16-bit grayscale PNG (all zeros), made byte by byte.
    static byte[] Sixteen32x32()
    {
        using var image = SkiaSharp.SKImage.FromPixelCopy(new SkiaSharp.SKImageInfo(32, 32, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque), new byte[32 * 32], 32);
        var png = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100).ToArray();
        png[24] = 16;   // the IHDR bit depth: what the decoder sees first, and what the label-map reader must refuse
        return png;
    }
}
