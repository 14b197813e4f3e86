using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Backend = Onnx on the segmentation trainer, and the ONNX segmenter's zip reloaded by the beit tool in a fresh process.</summary>
[TestClass]
public sealed class OnnxSegmenterTests
{
    [TestMethod]
    public void AnOnnxSegmenterMasksLikeTheTorchSharpOneAndReloadsInAFreshProcess()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            string canvases = Path.Combine(root, "seg");
            FashionMnistCanvases.Generate(new FashionMnistCanvasOptions
            {
                SourceFolder = FashionMnist.Directory, OutputFolder = canvases, CanvasSize = 32, TrainingCanvases = 32, ValidationCanvases = 4, Classes = [1, 8],
            });
            var data = ml.Data.LoadFromEnumerable(SegmentationFolder.Read(canvases, "training")
                .Select(s => new SegmentationTrainingTests.Row { Image = s.ImagePath, Label = s.LabelPath }).ToList());
            BeitSegmentationOptions Options(BeitBackend backend) => new()
            {
                Model = BeitModelSource.FromConfig(TinyModels.SegmentationConfig(classes: 3)),
                ClassNames = ["background", "Trouser", "Bag"], Epochs = 2, BatchSize = 8, LearningRate = 1e-3, LayerDecay = 1, Seed = 2,
                Backend = backend, Device = "cpu",
            };
            using var torch = ml.SemanticSegmentation().Trainers.Beit(Options(BeitBackend.TorchSharp)).Fit(data);
            using var onnx = ml.SemanticSegmentation().Trainers.Beit(Options(BeitBackend.Onnx)).Fit(data);
            Assert.AreEqual(BeitBackend.Onnx, onnx.Backend);

            var paths = Directory.GetFiles(Path.Combine(canvases, "images", "validation")).Order(StringComparer.Ordinal).ToList();
            var pictures = paths.Select(RgbImage.Load).ToList();
            var torchMasks = torch.PredictMasks(pictures);
            var onnxMasks = onnx.PredictMasks(pictures);
            int pixels = torchMasks.Sum(m => m.Length);
            Assert.IsTrue(torchMasks.Zip(onnxMasks).All(p => p.First.Length == p.Second.Length) && torchMasks.Count == onnxMasks.Count, "masks of the same sizes");
            int differing = torchMasks.Zip(onnxMasks).Sum(p => p.First.Zip(p.Second).Count(q => q.First != q.Second));
            var classes = torchMasks.SelectMany(m => m).Distinct().Order().ToList();
            Console.WriteLine($"Backend = Onnx vs TorchSharp after the same seeded training: {differing} of {pixels} mask pixels differ; classes predicted: {string.Join(", ", classes)}");
            Assert.IsGreaterThan(1, classes.Count, "the masks are not one class everywhere, so comparing them says something");
            Assert.AreEqual(0, differing);

            string zip = Path.Combine(root, "onnx-segmenter.zip"), masks = Path.Combine(root, "masks");
            ml.Model.Save(onnx, data.Schema, zip);
            var (code, output, error) = BeitToolTests.Beit("segment", "predict", "--model", zip, "--images", Path.Combine(canvases, "images", "validation"), "--output", masks);
            Assert.AreEqual(0, code, error + output);
            for (int i = 0; i < paths.Count; i++)
            {
                string file = Path.Combine(masks, Path.GetFileNameWithoutExtension(paths[i]) + "_mask.png");
                var fromTool = SegmentationLabelMap.Read(file, out int width, out int height);
                Assert.AreEqual((pictures[i].Width, pictures[i].Height), (width, height), file);
                CollectionAssert.AreEqual(onnxMasks[i].Select(v => (byte)v).ToArray(), fromTool.ToArray(), $"the fresh process's mask of {paths[i]}");
            }
            Console.WriteLine($"the ONNX segmenter's zip in a fresh process: the same masks for {paths.Count} images");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
