using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Segmentation;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Models this library has just trained (not random ones) export to ONNX and score like TorchSharp.</summary>
[TestClass]
public sealed class OnnxTrainedModelTests
{
    [TestMethod]
    public void AFreshlyTrainedClassifierAndSegmenterScoreLikeTorchSharp()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var rows = FashionMnist.Load("train", 64);
            var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows));
            using var classifier = ml.MulticlassClassification.Trainers.BeitFinetune(FinetuneTests.TinyRecipe(epochs: 2))
                .Fit(keys.Transform(ml.Data.LoadFromEnumerable(rows)));
            using var pixels = randn([3, 3, 28, 28], generator: new Generator(5));
            CompareExport("trained classifier", classifier.TorchEngine.Model, pixels, (BeitForImageClassification m) => m.forward(pixels).Logits, "logits");

            FashionMnistCanvases.Generate(new FashionMnistCanvasOptions
            {
                SourceFolder = FashionMnist.Directory, OutputFolder = Path.Combine(root, "seg"), CanvasSize = 32, TrainingCanvases = 32, ValidationCanvases = 2, Classes = [1, 8],
            });
            var data = ml.Data.LoadFromEnumerable(SegmentationFolder.Read(Path.Combine(root, "seg"), "training")
                .Select(s => new SegmentationTrainingTests.Row { Image = s.ImagePath, Label = s.LabelPath }).ToList());
            var options = new BeitSegmentationOptions
            {
                Model = BeitModelSource.FromConfig(TinyModels.SegmentationConfig(classes: 3)),
                ClassNames = ["background", "Trouser", "Bag"], Epochs = 2, BatchSize = 8, LearningRate = 1e-3, LayerDecay = 1, Seed = 2,
            };
            using var segmenter = ml.SemanticSegmentation().Trainers.Beit(options).Fit(data);
            using var segPixels = randn([2, 3, 32, 32], generator: new Generator(6));
            CompareExport("trained segmenter", segmenter.TorchEngine.Model, segPixels, (BeitForSemanticSegmentation m) => m.forward(segPixels).Logits, "logits");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    static void CompareExport<TModel>(string what, TModel model, Tensor pixels, Func<TModel, Tensor> torchOutput, string name) where TModel : nn.Module
    {
        using var noGrad = no_grad();
        model.eval();
        using var expected = torchOutput(model);
        var proto = BeitOnnxExporter.Build(model);
        using var session = OnnxRuntimeScoring.Session(proto);
        var outputs = OnnxRuntimeScoring.Run(session, pixels);
        try
        {
            OnnxRuntimeScoring.Compare(what, name, outputs[name], expected);
        }
        finally
        {
            OnnxRuntimeScoring.Dispose(outputs);
        }
    }
}
