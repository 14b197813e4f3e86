using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static Microsoft.ML.Beit.Tests.OnnxRuntimeScoring;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Deploying an exported model: <c>beit export-onnx</c> on a checkpoint, a featurizer zip and a classifier zip, and
/// ML.NET's own <c>ExtractPixels</c> + <c>ApplyOnnxModel</c> scoring the file like the TorchSharp classifier.
/// </summary>
[TestClass]
public sealed class OnnxDeploymentTests
{
    [TestMethod]
    public void ToolExportsACheckpointThatOnnxRuntimeScoresLikeTorchSharp()
    {
        using var model = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config()));
        string directory = TinyModels.TempDirectory();
        try
        {
            BeitCheckpoint.Save(model, Path.Combine(directory, "checkpoint"));
            string path = Path.Combine(directory, "model.onnx");
            string output = ExportWithTool("--model", Path.Combine(directory, "checkpoint"), "--output", path);
            StringAssert.Contains(output, "Output logits [batch, 3]");

            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var session = new InferenceSession(path, options);
            using var pixels = TinyModels.Pixels(2);
            var torchOutputs = BeitNamedOutputs.Compute(model, pixels);
            var onnxOutputs = Run(session, pixels);
            try
            {
                Compare("beit export-onnx, batch 2", "logits", onnxOutputs["logits"], torchOutputs["logits"]);
            }
            finally
            {
                Dispose(torchOutputs);
                Dispose(onnxOutputs);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void ExternalDataKeepsTheWeightsBesideTheGraphAndScoresTheSame()
    {
        using var model = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config()));
        string directory = TinyModels.TempDirectory();
        try
        {
            BeitCheckpoint.Save(model, Path.Combine(directory, "checkpoint"));
            string inline = Path.Combine(directory, "inline.onnx"), external = Path.Combine(directory, "external.onnx");
            ExportWithTool("--model", Path.Combine(directory, "checkpoint"), "--output", inline);
            string output = ExportWithTool("--model", Path.Combine(directory, "checkpoint"), "--output", external, "--external-data");
            StringAssert.Contains(output, "ExternalData ");
            long graphBytes = new FileInfo(external).Length, dataBytes = new FileInfo(external + ".data").Length, inlineBytes = new FileInfo(inline).Length;
            Console.WriteLine($"inline file {inlineBytes} bytes; external: graph {graphBytes} bytes + data {dataBytes} bytes");
            Assert.IsFalse(File.Exists(inline + ".data"));
            Assert.IsLessThan(inlineBytes / 4, graphBytes, "the weights left the graph file");

            var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(external));
            var moved = graph.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
            Assert.IsNotEmpty(moved);
            Assert.IsTrue(moved.All(t => t.ExternalData.Single(e => e.Key == "location").Value == "external.onnx.data"), "a location relative to the graph file");

            using var pixels = TinyModels.Pixels(3);
            using var inlineSession = new InferenceSession(inline);
            using var externalSession = new InferenceSession(external, new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
            var expected = Run(inlineSession, pixels);
            var actual = Run(externalSession, pixels);
            try
            {
                Compare("external data vs inline, batch 3", "logits", actual["logits"], expected["logits"]);
                Compare("external data vs inline, batch 3", "features", actual["features"], expected["features"]);
            }
            finally
            {
                Dispose(expected);
                Dispose(actual);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void ToolExportsAFeaturizerZipWithItsPoolingAndPreprocessing()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            string images = Path.Combine(folder, "images");
            Directory.CreateDirectory(images);
            var paths = FeaturizerTests.WriteRandomImages(images, count: 3, width: 48, height: 36);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var model = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
                .Append(ml.Transforms.BeitFeaturize("Features", "Image",
                    new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(modelDir), Pooling = BeitPooling.Cls, NormalizeL2 = true }))
                .Fit(data);
            var expected = ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(model.Transform(data), false).ToList();
            string zip = Path.Combine(folder, "model.zip"), path = Path.Combine(folder, "features.onnx");
            ml.Model.Save(model, data.Schema, zip);
            foreach (var t in model) (t as IDisposable)?.Dispose();

            ExportWithTool("--model", zip, "--output", path);

            // A host needs only the file: the preprocessing comes from its metadata, the pooling is in the graph.
            var onnx = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            string Meta(string key) => onnx.MetadataProps.Single(p => p.Key == key).Value;
            Console.WriteLine($"beit.pooling {Meta("beit.pooling")}, beit.normalize_l2 {Meta("beit.normalize_l2")}, beit.architecture {Meta("beit.architecture")}");
            Assert.AreEqual("Cls", Meta("beit.pooling"));
            Assert.AreEqual("true", Meta("beit.normalize_l2"));
            var processor = new Preprocessing.BeitImageProcessor(Preprocessing.BeitPreprocessorConfig.FromJson(Meta("beit.preprocessor")));
            using var session = new InferenceSession(path);
            using var pixels = processor.ProcessBatch(expected.Select(r => Preprocessing.RgbImage.Load(r.Path)).ToList());
            var outputs = Run(session, pixels);
            try
            {
                using var featurizer = tensor(expected.SelectMany(r => r.Features).ToArray(), [expected.Count, expected[0].Features.Length]);
                Compare($"featurizer zip (Cls, L2) vs ONNX Runtime, batch {expected.Count}", "features", outputs["features"], featurizer);
            }
            finally
            {
                Dispose(outputs);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public sealed class ScoreRow
    {
        public string Path { get; set; } = "";
        [Data.VectorType] public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void ToolExportsAClassifierZipWhoseProbabilitiesMatchTheScoreColumn()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 4, width: 40, height: 40);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var loader = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path").Fit(data);
            var network = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config(labels: 4)));
            var classifier = new BeitImageClassificationTransformer(ml,
                new Classification.BeitClassifierEngine(network, Preprocessing.BeitPreprocessorConfig.Pt22k(32), "cpu"),
                "Image", "Score", "PredictedLabel", batchSize: 2, BeitInvalidImageHandling.Throw);
            var model = new Data.TransformerChain<ITransformer>(loader, classifier);
            var expected = ml.Data.CreateEnumerable<ScoreRow>(model.Transform(data), false).ToList();
            string zip = Path.Combine(folder, "model.zip"), path = Path.Combine(folder, "classifier.onnx");
            ml.Model.Save(model, data.Schema, zip);
            classifier.Dispose();

            string output = ExportWithTool("--model", zip, "--output", path);
            StringAssert.Contains(output, "Output probabilities [batch, 4]");

            var onnx = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var preprocessor = Preprocessing.BeitPreprocessorConfig.FromJson(onnx.MetadataProps.Single(p => p.Key == "beit.preprocessor").Value);
            var processor = new Preprocessing.BeitImageProcessor(preprocessor);
            using var session = new InferenceSession(path);
            using var pixels = processor.ProcessBatch(expected.Select(r => Preprocessing.RgbImage.Load(r.Path)).ToList());
            var outputs = Run(session, pixels);
            try
            {
                using var scores = tensor(expected.SelectMany(r => r.Score).ToArray(), [expected.Count, 4]);
                Compare($"classifier zip Score column vs ONNX Runtime, batch {expected.Count}", "probabilities", outputs["probabilities"], scores);
                using var onnxLabels = outputs["probabilities"].argmax(1);
                using var mlnetLabels = scores.argmax(1);
                var predicted = (Onnx: onnxLabels.data<long>().ToArray(), MLNet: mlnetLabels.data<long>().ToArray());
                Console.WriteLine($"predicted classes: ONNX Runtime [{string.Join(", ", predicted.Onnx)}], ML.NET Score column [{string.Join(", ", predicted.MLNet)}]");
                CollectionAssert.AreEqual(predicted.MLNet, predicted.Onnx, "the same predicted labels");
            }
            finally
            {
                Dispose(outputs);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public sealed class ProbabilityRow
    {
        public string Path { get; set; } = "";
        [Data.ColumnName("probabilities"), Data.VectorType] public float[] Probabilities { get; set; } = [];
    }

    [TestMethod]
    public void MLNetApplyOnnxModelAfterExtractPixelsScoresLikeTheTorchSharpClassifier()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 8, width: 32, height: 32);
            using var network = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config(labels: 4)));
            // Without the constant offsets of the head, random images get different predicted classes.
            using (no_grad())
            {
                network.beit.pooler!.layernorm!.bias!.zero_();
                network.classifier.bias!.zero_();
            }
            string path = Path.Combine(folder, "classifier.onnx");
            BeitOnnxExporter.Export(network, path);

            // pt22k preprocessing in ML.NET's own transforms: ExtractPixels computes (byte - offset) * scale, so offset 127.5 and
            // scale 1/127.5 give (byte / 255 - 0.5) / 0.5, planar RGB, as the model expects.
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
                .Append(ml.Transforms.ResizeImages("Image", 32, 32, "Image"))
                .Append(ml.Transforms.ExtractPixels("pixel_values", "Image", interleavePixelColors: false, offsetImage: 127.5f, scaleImage: 1 / 127.5f))
                .Append(ml.Transforms.ApplyOnnxModel(["probabilities"], ["pixel_values"], path));
            var model = pipeline.Fit(data);
            var rows = ml.Data.CreateEnumerable<ProbabilityRow>(model.Transform(data), false).ToList();
            (model as IDisposable)?.Dispose();

            var processor = new Preprocessing.BeitImageProcessor(Preprocessing.BeitPreprocessorConfig.Pt22k(32));
            using var pixels = processor.ProcessBatch(rows.Select(r => Preprocessing.RgbImage.Load(r.Path)).ToList());
            var torchOutputs = BeitNamedOutputs.Compute(network, pixels);
            try
            {
                using var expected = torchOutputs["logits"].softmax(-1);
                using var fromMLNet = tensor(rows.SelectMany(r => r.Probabilities).ToArray(), [rows.Count, 4L]);
                Compare($"ApplyOnnxModel vs TorchSharp, {rows.Count} rows", "probabilities", fromMLNet, expected);
                using var a = fromMLNet.argmax(1);
                using var b = expected.argmax(1);
                Console.WriteLine($"predicted classes: ApplyOnnxModel [{string.Join(", ", a.data<long>().ToArray())}], TorchSharp [{string.Join(", ", b.data<long>().ToArray())}]");
                CollectionAssert.AreEqual(b.data<long>().ToArray(), a.data<long>().ToArray());
            }
            finally
            {
                Dispose(torchOutputs);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs <c>beit export-onnx</c>; a tool without the verb fails the test (the verb is part of the tool).</summary>
    internal static string ExportWithTool(params string[] arguments)
    {
        var (exitCode, output, error) = BeitToolTests.Beit(["export-onnx", .. arguments]);
        Console.WriteLine(output);
        if (exitCode != 0 && error.Contains("Unrecognized command or argument 'export-onnx'", StringComparison.Ordinal))
            Assert.Fail("The tool does not know 'export-onnx': ExportOnnxCommand.Create() is not registered in src/Beit.Trainer/Program.cs.");
        Assert.AreEqual(0, exitCode, error);
        return output;
    }
}
