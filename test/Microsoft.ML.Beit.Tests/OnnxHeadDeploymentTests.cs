using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static Microsoft.ML.Beit.Tests.OnnxRuntimeScoring;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// <c>beit export-onnx</c> on the heads: a masked-image-modeling checkpoint with its mask input, and a segmenter's
/// model zip with the upsampled logits; ONNX Runtime scores the files like the TorchSharp models.
/// </summary>
[TestClass]
public sealed class OnnxHeadDeploymentTests
{
    [TestMethod]
    public void ToolExportsAMaskedImageModelingCheckpointWithItsMaskInput()
    {
        using var model = TinyModels.Randomize(new BeitForMaskedImageModeling(TinyModels.Config()));
        string directory = TinyModels.TempDirectory();
        try
        {
            BeitCheckpoint.Save(model, Path.Combine(directory, "checkpoint"));
            string path = Path.Combine(directory, "mim.onnx");
            string output = OnnxDeploymentTests.ExportWithTool("--model", Path.Combine(directory, "checkpoint"), "--output", path, "--include-mask-input");
            StringAssert.Contains(output, "Input bool_masked_pos [batch, 16]");
            StringAssert.Contains(output, "Output logits [batch, 16, 64]");

            using var session = new InferenceSession(path, new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
            using var pixels = TinyModels.Pixels(2);
            using var mask = rand([2, 16], generator: new Generator(5)).lt(0.4);
            var torchOutputs = BeitNamedOutputs.Compute(model, pixels, mask);
            var onnxOutputs = Run(session, pixels, mask);
            try
            {
                Compare("beit export-onnx, masked image modeling, batch 2", "logits/logits_all_tokens", onnxOutputs["logits"], torchOutputs["logits_all_tokens"]);
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
    public void ToolExportsASegmenterZipWithItsPreprocessing()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 2, width: 32, height: 32);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var loader = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path").Fit(data);
            var network = TinyModels.Randomize(new BeitForSemanticSegmentation(TinyModels.SegmentationConfig(classes: 3)));
            var engine = new BeitSegmentationEngine(network, BeitPreprocessorConfig.Pt22k(32), cropSize: 32, device: "cpu", batchSize: 2);
            var segmenter = new BeitSemanticSegmentationTransformer(ml, engine, "Image", "PredictedMask", null, batchSize: 2,
                BeitInvalidImageHandling.Throw, ignoreIndex: 255, reduceLabels: false);
            string zip = Path.Combine(folder, "segmenter.zip"), path = Path.Combine(folder, "segmenter.onnx");
            ml.Model.Save(new Data.TransformerChain<ITransformer>(loader, segmenter), data.Schema, zip);

            using var pixels = engine.Processor.ProcessBatch(paths.Select(RgbImage.Load).ToList());
            var torchOutputs = BeitNamedOutputs.Compute(network, pixels);
            segmenter.Dispose();
            try
            {
                string output = OnnxDeploymentTests.ExportWithTool("--model", zip, "--output", path, "--include-upsampled-logits");
                StringAssert.Contains(output, "Output logits [batch, 3, 16, 16]");
                StringAssert.Contains(output, "Output upsampled_logits [batch, 3, 32, 32]");
                var onnx = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
                Assert.IsTrue(onnx.MetadataProps.Any(p => p.Key == "beit.preprocessor"), "the segmenter's preprocessing is in the metadata");

                using var session = new InferenceSession(path);
                var onnxOutputs = Run(session, pixels);
                try
                {
                    Compare("segmenter zip, batch 2", "logits", onnxOutputs["logits"], torchOutputs["logits"]);
                    Compare("segmenter zip, batch 2", "upsampled_logits/upsampled_scores", onnxOutputs["upsampled_logits"], torchOutputs["upsampled_scores"]);
                }
                finally
                {
                    Dispose(onnxOutputs);
                }
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
}
