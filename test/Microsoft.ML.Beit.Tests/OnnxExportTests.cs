using Google.Protobuf;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// ONNX export: ONNX Runtime, with full graph optimization, scores the exported file like the TorchSharp model
/// (and like the PyTorch original on ../shared/reference), at batch 1 and 3 from the same file.
/// </summary>
[TestClass]
public sealed class OnnxExportTests
{
    const double Tolerance = 1e-4;

    [TestMethod]
    [DataRow("unilm-finetune-tiny", "weights.safetensors")]
    [DataRow("unilm-finetune-tiny", "weights.pth")]
    [DataRow("hf-layout-tiny", "weights.safetensors")]
    public void ReferenceClassifierScoresLikeTorchSharpAndThePyTorchOriginal(string caseName, string weightsFile)
    {
        using var checkpoint = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(caseName), weightsFile));
        using var model = checkpoint.CreateModel();
        using var session = Session(BeitOnnxExporter.Build(checkpoint));
        var expected = ReferenceData.Expected(caseName);
        try
        {
            var reference = expected["pixel_values"];
            var fromOnnx = Run(session, reference);
            Compare($"{caseName} vs PyTorch, batch {reference.shape[0]}", "logits", fromOnnx["logits"], expected["logits"]);
            Compare($"{caseName} vs PyTorch, batch {reference.shape[0]}", "features/pooled", fromOnnx["features"], expected["pooled"]);
            Dispose(fromOnnx);

            using var extra = randn([1, 3, 32, 32], generator: new Generator(11));
            using var batch3 = cat([reference, extra], 0);
            using var batch1 = reference.narrow(0, 1, 1).contiguous();
            foreach (var pixels in new[] { batch1, batch3 })
            {
                var torchOutputs = BeitNamedOutputs.Compute(model, pixels);
                var onnxOutputs = Run(session, pixels);
                try
                {
                    string what = $"{caseName} vs TorchSharp, batch {pixels.shape[0]}";
                    Compare(what, "logits", onnxOutputs["logits"], torchOutputs["logits"]);
                    Compare(what, "features/pooled", onnxOutputs["features"], torchOutputs["pooled"]);
                    using var probabilities = torchOutputs["logits"].softmax(-1);
                    Compare(what, "probabilities", onnxOutputs["probabilities"], probabilities);
                }
                finally
                {
                    Dispose(torchOutputs);
                    Dispose(onnxOutputs);
                }
            }
        }
        finally
        {
            Dispose(expected);
        }
    }

    [TestMethod]
    [DataRow("mean-pooling")]
    [DataRow("cls-pooling")]
    [DataRow("absolute-positions-shared-bias")]
    [DataRow("per-layer-and-shared-bias")]
    [DataRow("no-layer-scale-tanh-gelu")]
    public void BackboneFeaturesAndLastHiddenStateMatchTorchSharp(string variant)
    {
        var config = TinyModels.Config();
        switch (variant)
        {
            case "cls-pooling": config.UseMeanPooling = false; break;
            case "absolute-positions-shared-bias":
                config.UseAbsolutePositionEmbeddings = true;
                config.UseRelativePositionBias = false;
                config.UseSharedRelativePositionBias = true;
                break;
            case "per-layer-and-shared-bias": config.UseSharedRelativePositionBias = true; break;
            case "no-layer-scale-tanh-gelu": config.LayerScaleInitValue = 0; config.HiddenAct = "gelu_new"; break;
        }
        using var model = TinyModels.Randomize(new BeitModel(config));
        using var session = Session(BeitOnnxExporter.Build(model, new BeitOnnxExportOptions { IncludeLastHiddenState = true }));
        foreach (int batch in new[] { 1, 3 })
        {
            using var pixels = TinyModels.Pixels(batch);
            var torchOutputs = BeitNamedOutputs.Compute(model, pixels);
            var onnxOutputs = Run(session, pixels);
            try
            {
                Compare($"{variant}, batch {batch}", "features/pooled", onnxOutputs["features"], torchOutputs["pooled"]);
                Compare($"{variant}, batch {batch}", "last_hidden_state", onnxOutputs["last_hidden_state"], torchOutputs["last_hidden_state"]);
            }
            finally
            {
                Dispose(torchOutputs);
                Dispose(onnxOutputs);
            }
        }
    }

    [TestMethod]
    [DataRow(BeitPooling.Mean, false)]
    [DataRow(BeitPooling.Cls, true)]
    [DataRow(BeitPooling.Tokens, false)]
    public void FeaturizerPoolingsOfAPretrainingCheckpointMatchTorchSharp(BeitPooling pooling, bool normalize)
    {
        var config = TinyModels.Config();
        using var model = TinyModels.Randomize(new BeitForMaskedImageModeling(config));
        using var session = Session(BeitOnnxExporter.Build(model, new BeitOnnxExportOptions { FeaturesOnly = true, Pooling = pooling, NormalizeL2 = normalize }));
        using var pixels = TinyModels.Pixels(3);
        var onnxOutputs = Run(session, pixels);
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            // The featurizer's rule for pt22k checkpoints: the final LayerNorm of the masked-image-modeling head plays the final norm.
            var tokens = model.beit.forward(pixels).LastHiddenState;
            var patches = tokens.narrow(1, 1, tokens.shape[1] - 1);
            var expected = pooling switch
            {
                BeitPooling.Mean => model.layernorm.forward(patches.mean([1])),
                BeitPooling.Cls => model.layernorm.forward(tokens.select(1, 0)),
                _ => model.layernorm.forward(patches).flatten(1),
            };
            if (normalize) expected = nn.functional.normalize(expected, p: 2, dim: 1);
            Compare($"pretraining checkpoint, {pooling}{(normalize ? ", L2" : "")}, batch 3", "features", onnxOutputs["features"], expected);
        }
        finally
        {
            Dispose(onnxOutputs);
        }
    }

    [TestMethod]
    public void ExportedFileDeclaresIrVersionOpsetNamedInputsOutputsAndADynamicBatch()
    {
        using var model = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config(labels: 4)));
        string directory = TinyModels.TempDirectory();
        try
        {
            string path = Path.Combine(directory, "model.onnx");
            BeitOnnxExporter.Export(model, path);
            var onnx = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            Console.WriteLine($"IR {onnx.IrVersion}, opset {onnx.OpsetImport.Single().Version}, {onnx.Graph.Node.Count} nodes, {onnx.Graph.Initializer.Count} initializers, {new FileInfo(path).Length} bytes");
            Assert.IsLessThanOrEqualTo(8L, onnx.IrVersion);
            Assert.AreEqual(17L, onnx.OpsetImport.Single().Version);
            Assert.AreEqual("", onnx.OpsetImport.Single().Domain);
            Assert.AreEqual("pixel_values", onnx.Graph.Input.Single().Name);
            CollectionAssert.AreEqual(new[] { "features", "logits", "probabilities" }, onnx.Graph.Output.Select(o => o.Name).ToArray());
            Assert.AreEqual("batch", onnx.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
            StringAssert.Contains(onnx.MetadataProps.Single(p => p.Key == "beit.config").Value, "\"hidden_size\": 48");

            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var session = new InferenceSession(path, options);
            var input = session.InputMetadata["pixel_values"];
            Console.WriteLine($"ONNX Runtime sees pixel_values [{string.Join(", ", input.Dimensions)}] ({string.Join(", ", input.SymbolicDimensions)}), logits [{string.Join(", ", session.OutputMetadata["logits"].Dimensions)}]");
            CollectionAssert.AreEqual(new[] { -1, 3, 32, 32 }, input.Dimensions);
            CollectionAssert.AreEqual(new[] { -1, 4 }, session.OutputMetadata["logits"].Dimensions);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void UnsupportedModelsFailWithAClearError()
    {
        using var mim = TinyModels.Randomize(new BeitForMaskedImageModeling(TinyModels.Config()));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => BeitOnnxExporter.Build(mim));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, "BeitForMaskedImageModeling");
        StringAssert.Contains(e.Message, "not yet supported");

        using var segmenter = TinyModels.Randomize(new BeitForSemanticSegmentation(TinyModels.SegmentationConfig()));
        e = Assert.ThrowsExactly<NotSupportedException>(() => BeitOnnxExporter.Build(segmenter));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, "BeitForSemanticSegmentation");
    }

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

    /// <summary>Runs <c>beit export-onnx</c>; inconclusive while the verb is not registered in the tool.</summary>
    static string ExportWithTool(params string[] arguments)
    {
        var (exitCode, output, error) = BeitToolTests.Beit(["export-onnx", .. arguments]);
        Console.WriteLine(output);
        if (exitCode != 0 && error.Contains("Unrecognized command or argument 'export-onnx'", StringComparison.Ordinal))
            Assert.Inconclusive("The tool does not know 'export-onnx' yet: register ExportOnnxCommand.Create() in src/Beit.Trainer/Program.cs.");
        Assert.AreEqual(0, exitCode, error);
        return output;
    }

    static InferenceSession Session(ModelProto model)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        return new InferenceSession(model.ToByteArray(), options);
    }

    /// <summary>Runs the session on [B, C, H, W] pixels; every output as a CPU tensor by name.</summary>
    static Dictionary<string, Tensor> Run(InferenceSession session, Tensor pixels)
    {
        var data = pixels.to(ScalarType.Float32).contiguous().data<float>().ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(data, pixels.shape);
        using var runOptions = new RunOptions();
        var names = session.OutputNames.ToArray();
        using var results = session.Run(runOptions, new[] { BeitOnnxExporter.PixelValues }, new[] { input }, names);
        var outputs = new Dictionary<string, Tensor>();
        int i = 0;
        foreach (var result in results)
        {
            var shape = result.GetTensorTypeAndShape().Shape;
            outputs[names[i++]] = tensor(result.GetTensorDataAsSpan<float>().ToArray(), shape);
        }
        return outputs;
    }

    static void Compare(string what, string name, Tensor actual, Tensor expected)
    {
        double diff = ReferenceData.MaxAbsDiff(actual, expected);
        Console.WriteLine($"{what}: {name} [{string.Join(",", expected.shape)}] max abs diff {diff:E2}");
        Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{what}: {name} differs by {diff:E3}");
    }

    static void Dispose(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }
}
