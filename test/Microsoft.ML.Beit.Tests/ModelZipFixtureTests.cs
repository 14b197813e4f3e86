using Google.Protobuf;
using System.Text.Json;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Model zips written by an earlier version of the library (Fixtures/model-zips, see its README) still load and score as
/// they did when they were written: a classifier, the same classifier on the ONNX Runtime backend, a featurizer and a
/// segmenter, each in a pipeline as users save them.
/// </summary>
[TestClass]
public sealed class ModelZipFixtureTests
{
    [TestMethod]
    public void ModelZipsWrittenBeforeTheTypedSettingsLoadAndScoreAsTheyDid()
    {
        var expected = JsonSerializer.Deserialize<Dictionary<string, double[]>>(File.ReadAllText(Path.Combine(Folder, "expected.json")))!;
        var ml = new MLContext(seed: 1);
        var actual = Score(ml, Folder);
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), actual.Keys.ToList());
        foreach (var (name, values) in expected)
        {
            Assert.HasCount(values.Length, actual[name], name);
            double diff = values.Zip(actual[name], (a, b) => Math.Abs(a - b)).Max();
            Console.WriteLine($"{name}: {values.Length} values, max abs diff {diff:E2}");
            Assert.IsLessThanOrEqualTo(1e-5, diff, name);
        }

        // The settings that are not scores: the recorded recipe, the backend, the columns.
        var classifier = (IEnumerable<ITransformer>)ml.Model.Load(Path.Combine(Folder, "classifier.zip"), out _);
        var onnx = (IEnumerable<ITransformer>)ml.Model.Load(Path.Combine(Folder, "classifier-onnx.zip"), out _);
        using var segmenter = (BeitSemanticSegmentationTransformer)ml.Model.Load(Path.Combine(Folder, "segmenter.zip"), out _);
        using var featurizer = (BeitFeaturizerTransformer)ml.Model.Load(Path.Combine(Folder, "featurizer.zip"), out _);
        try
        {
            var torch = classifier.OfType<BeitImageClassificationTransformer>().Single();
            StringAssert.Contains(torch.TrainingRecipe, "recipe");
            Assert.AreEqual(BeitBackend.TorchSharp, torch.Backend);
            Assert.AreEqual(BeitBackend.Onnx, onnx.OfType<BeitImageClassificationTransformer>().Single().Backend);
            Assert.AreEqual("Score", segmenter.ScoreColumnName);
            Assert.AreEqual(BeitPooling.Mean, featurizer.Engine.Pooling);
            Assert.IsTrue(featurizer.Engine.NormalizeL2);
        }
        finally
        {
            foreach (var t in classifier.Concat(onnx)) (t as IDisposable)?.Dispose();
        }
    }

    /// <summary>The public export of a fitted model (a loaded zip): what <c>beit export-onnx --model model.zip</c> does.</summary>
    [TestMethod]
    public void AFittedModelExportsToOnnxThroughThePublicApi()
    {
        var ml = new MLContext(seed: 1);
        var classifier = (IEnumerable<ITransformer>)ml.Model.Load(Path.Combine(Folder, "classifier.zip"), out _);
        var onnxBackend = (IEnumerable<ITransformer>)ml.Model.Load(Path.Combine(Folder, "classifier-onnx.zip"), out _);
        using var featurizer = (BeitFeaturizerTransformer)ml.Model.Load(Path.Combine(Folder, "featurizer.zip"), out _);
        try
        {
            var options = new BeitOnnxExportOptions();
            var proto = BeitOnnxExporter.Build((ITransformer)classifier, options);
            CollectionAssert.AreEqual(new[] { BeitOnnxExporter.Features, BeitOnnxExporter.Logits, BeitOnnxExporter.Probabilities },
                proto.Graph.Output.Select(o => o.Name).ToArray());
            Assert.IsTrue(proto.MetadataProps.Any(p => p.Key == "beit.preprocessor"), "the preprocessing is in the metadata");
            Assert.IsNull(options.Preprocessor, "the caller's options are left as they were");
            var torch = classifier.OfType<BeitImageClassificationTransformer>().Single().TorchEngine.Model;
            using (var noGrad = TorchSharp.torch.no_grad())
            using (var pixels = TorchSharp.torch.randn([2, 3, 16, 16], generator: new TorchSharp.torch.Generator(4)))
            using (var session = OnnxRuntimeScoring.Session(proto))
            {
                torch.eval();
                using var expected = torch.forward(pixels).Logits;
                var outputs = OnnxRuntimeScoring.Run(session, pixels);
                OnnxRuntimeScoring.Compare("classifier zip", BeitOnnxExporter.Logits, outputs[BeitOnnxExporter.Logits], expected);
                foreach (var t in outputs.Values) t.Dispose();
            }

            var stored = onnxBackend.OfType<BeitImageClassificationTransformer>().Single();
            CollectionAssert.AreEqual(stored.OnnxModelBytes, BeitOnnxExporter.Build((ITransformer)onnxBackend).ToByteArray(), "an ONNX-backend zip gives the graph it scores with");

            var features = BeitOnnxExporter.Build(featurizer);
            Assert.AreEqual(BeitOnnxExporter.Features, features.Graph.Output.Single().Name, "a featurizer exports its features only");
            Assert.AreEqual(16, features.Graph.Output[0].Type.TensorType.Shape.Dim[1].DimValue, "mean pooling: [batch, hidden]");

            var error = Assert.ThrowsExactly<ArgumentException>(() => BeitOnnxExporter.Build(ml.Transforms.Conversion.MapValueToKey("Label")
                .Fit(ml.Data.LoadFromEnumerable(new[] { new ImageRow { Label = "a" } }))));
            StringAssert.Contains(error.Message, "no BEiT classifier, featurizer or segmenter");
        }
        finally
        {
            foreach (var t in classifier.Concat(onnxBackend)) (t as IDisposable)?.Dispose();
        }
    }

    internal static string Folder => Path.Combine(Path.GetDirectoryName(FashionMnist.Directory)!, "..", "..", "test", "Microsoft.ML.Beit.Tests", "Fixtures", "model-zips");

    /// <summary>A 16x16 BEiT with 8x8 patches, 16 wide, 4 blocks: small enough that its zip is a few kilobytes.</summary>
    internal static BeitConfig Architecture() => new()
    {
        ImageSize = 16, PatchSize = 8, HiddenSize = 16, NumHiddenLayers = 4, NumAttentionHeads = 2, IntermediateSize = 32,
        UseMeanPooling = true, UseRelativePositionBias = true, LayerNormEps = 1e-6, LayerScaleInitValue = 0.1,
        OutIndices = [1, 2, 3, 4], AuxiliaryChannels = 8,
    };

    internal sealed class ImageRow
    {
        public byte[] Image { get; set; } = [];
        public string Label { get; set; } = "";
    }

    internal sealed class PathRow
    {
        public string Image { get; set; } = "";
    }

    /// <summary>The images the expected scores are for: the first 4 test images, and 4 validation canvases.</summary>
    internal static (IDataView Images, IDataView Canvases, string Root) Inputs(MLContext ml)
    {
        string root = TinyModels.TempDirectory();
        var set = FashionMnistCanvases.Generate(new FashionMnistCanvasOptions
        {
            SourceFolder = FashionMnist.Directory, OutputFolder = root, CanvasSize = 16, TrainingCanvases = 16, ValidationCanvases = 4, Classes = [1, 8], Seed = 5,
        });
        var images = ml.Data.LoadFromEnumerable(FashionMnist.Load("t10k", 4).Select(e => new ImageRow { Image = e.Image, Label = e.Label }).ToList());
        var canvases = ml.Data.LoadFromEnumerable(SegmentationFolder.Read(root, "validation").Select(s => new PathRow { Image = s.ImagePath }).ToList());
        return (images, canvases, root);
    }

    internal static float[] Column(IDataView scored, string name) =>
        scored.GetColumn<VBuffer<float>>(name).SelectMany(v => v.DenseValues()).ToArray();

    internal static uint[] Keys(IDataView scored, string name) =>
        scored.GetColumn<VBuffer<uint>>(name).SelectMany(v => v.DenseValues()).ToArray();

    /// <summary>What each fixture scores on <see cref="Inputs"/>, by output: the classifiers' Score, the featurizer's Features, the segmenter's PredictedMask and Score.</summary>
    internal static Dictionary<string, double[]> Score(MLContext ml, string folder)
    {
        var (images, canvases, root) = Inputs(ml);
        var result = new Dictionary<string, double[]>();
        try
        {
            foreach (var (zip, input, outputs) in new[]
            {
                ("classifier.zip", images, new[] { "Score" }),
                ("classifier-onnx.zip", images, new[] { "Score" }),
                ("featurizer.zip", images, new[] { "Features" }),
                ("segmenter.zip", canvases, new[] { "PredictedMask", "Score" }),
            })
            {
                var model = ml.Model.Load(Path.Combine(folder, zip), out _);
                try
                {
                    var scored = model.Transform(input);
                    foreach (string output in outputs)
                        result[$"{zip}:{output}"] = output == "PredictedMask"
                            ? Keys(scored, output).Select(k => (double)k).ToArray()
                            : Column(scored, output).Select(v => (double)v).ToArray();
                }
                finally
                {
                    foreach (var t in model is IEnumerable<ITransformer> chain ? chain : [model]) (t as IDisposable)?.Dispose();
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
        return result;
    }
}
