using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static Microsoft.ML.Beit.Tests.OnnxRuntimeScoring;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// ONNX export: ONNX Runtime, with full graph optimization, scores the exported file like the TorchSharp model
/// (and like the PyTorch original on ../shared/reference), at batch 1 and 3 from the same file; the file declares
/// its IR version, opset, names and dynamic batch; unsupported models fail clearly.
/// </summary>
[TestClass]
public sealed class OnnxExportTests
{
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
    public void UnsupportedRequestsFailWithAClearError()
    {
        // The mask input belongs to the masked-image-modeling head only.
        using var classifier = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config(labels: 4)));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => BeitOnnxExporter.Build(classifier, new BeitOnnxExportOptions { IncludeMaskInput = true }));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, "BeitForImageClassification");

        // A pooling the exporter does not know (such as one added to BeitPooling later) is refused, never approximated.
        using var backbone = TinyModels.Randomize(new BeitModel(TinyModels.Config()));
        var unknown = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BeitOnnxExporter.Build(backbone, new BeitOnnxExportOptions { Pooling = (BeitPooling)99 }));
        Console.WriteLine(unknown.Message);
        StringAssert.Contains(unknown.Message, "Unknown pooling");

        // A layer the model does not have, and attention of the embeddings, which have none.
        var layer = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BeitOnnxExporter.Build(backbone, new BeitOnnxExportOptions { Layer = 9 }));
        Console.WriteLine(layer.Message);
        StringAssert.Contains(layer.Message, "Layer 9 does not exist");
        var embeddings = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            BeitOnnxExporter.Build(backbone, new BeitOnnxExportOptions { Pooling = BeitPooling.ClsAttention, Layer = 0 }));
        StringAssert.Contains(embeddings.Message, "no attention");
    }
}
