using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.OnnxRuntime;
using static Microsoft.ML.Beit.Tests.OnnxRuntimeScoring;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// ONNX export of the masked-image-modeling and semantic segmentation heads: ONNX Runtime (ORT_ENABLE_ALL) scores
/// the exported file like the TorchSharp model and the PyTorch original on ../shared/reference.
/// </summary>
[TestClass]
public sealed class OnnxHeadExportTests
{
    [TestMethod]
    public void MaskedImageModelingLogitsMatchTorchSharpWithAndWithoutTheMask()
    {
        const string caseName = "unilm-pretrain-tiny";
        using var checkpoint = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(caseName), "weights.safetensors"));
        using var model = checkpoint.CreateModel();
        using var masked = Session(BeitOnnxExporter.Build(checkpoint, new BeitOnnxExportOptions { IncludeMaskInput = true }));
        using var plain = Session(BeitOnnxExporter.Build(checkpoint));
        var expected = ReferenceData.Expected(caseName);
        try
        {
            var pixels = expected["pixel_values"];
            var mask = expected["bool_masked_pos"];
            using var noMask = zeros(mask.shape, ScalarType.Float32);
            var cases = new (string What, InferenceSession Session, Tensor? Mask, Tensor? TorchMask)[]
            {
                ("mask input, masked", masked, mask, mask),
                ("mask input, nothing masked", masked, noMask, null),
                ("no mask input", plain, null, null),
            };
            foreach (var (what, session, onnxMask, torchMask) in cases)
            {
                var torchOutputs = BeitNamedOutputs.Compute(model, pixels, torchMask);
                var onnxOutputs = Run(session, pixels, onnxMask);
                try
                {
                    Compare($"{caseName} vs TorchSharp, {what}", "logits/logits_all_tokens", onnxOutputs["logits"], torchOutputs["logits_all_tokens"]);
                    if (torchMask is not null)
                        Compare($"{caseName} vs PyTorch, {what}", "logits/logits_all_tokens", onnxOutputs["logits"], expected["logits_all_tokens"]);
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
    public void SegmentationLogitsMatchThePyTorchOriginalAndTorchSharp()
    {
        const string caseName = "seg-hf-tiny";
        using var checkpoint = BeitCheckpoint.Load(Path.Combine(ReferenceData.Case(caseName), "weights.safetensors"));
        using var model = checkpoint.CreateModel();
        using var session = Session(BeitOnnxExporter.Build(checkpoint, new BeitOnnxExportOptions { IncludeUpsampledLogits = true }));
        var expected = ReferenceData.Expected(caseName);
        try
        {
            var pixels = expected["pixel_values"];
            var fromOnnx = Run(session, pixels);
            Compare($"{caseName} vs PyTorch, batch 2", "logits", fromOnnx["logits"], expected["logits"]);
            Compare($"{caseName} vs PyTorch, batch 2", "upsampled_logits/upsampled_scores", fromOnnx["upsampled_logits"], expected["upsampled_scores"]);
            Dispose(fromOnnx);
            using var batch1 = pixels.narrow(0, 1, 1).contiguous();
            CompareWithTorchSharp(model, session, batch1, $"{caseName} vs TorchSharp, batch 1");
            CompareWithTorchSharp(model, session, pixels, $"{caseName} vs TorchSharp, batch 2");
        }
        finally
        {
            Dispose(expected);
        }
    }

    [TestMethod]
    [DataRow("huggingface", 32)]
    [DataRow("unilm", 32)]
    [DataRow("huggingface", 16)]
    [DataRow("huggingface", 40)]
    public void SegmentationOfATinyModelMatchesTorchSharpUnderBothOutIndexConventions(string convention, int imageSize)
    {
        // Image 16: a 2x2 grid, so the coarsest map is 1x1 and every pooled branch is resized down to one pixel.
        // Image 40: an odd 5x5 grid (coarsest map 2x2 after the floor of max pooling), so resizes have odd ratios.
        var config = TinyModels.SegmentationConfig();
        config.ImageSize = imageSize;
        config.NumHiddenLayers = 4;
        config.OutIndicesConvention = convention;
        config.OutIndices = convention == "unilm" ? [0, 1, 2, 3] : [1, 2, 4, 5];
        using var model = TinyModels.Randomize(new BeitForSemanticSegmentation(config));
        using var session = Session(BeitOnnxExporter.Build(model, new BeitOnnxExportOptions { IncludeUpsampledLogits = true }));
        foreach (int batch in new[] { 1, 2 })
        {
            using var pixels = randn([batch, 3, imageSize, imageSize], generator: new Generator(3));
            CompareWithTorchSharp(model, session, pixels, $"tiny segmenter ({convention} out_indices, image {imageSize}), batch {batch}");
        }
    }

    [TestMethod]
    public void AdaptiveAveragePoolingMatricesMatchTorchOnOverlappingBins()
    {
        using var map = randn([1, 2, 7, 7], generator: new Generator(3));
        foreach (var (side, scale) in new[] { (1L, 1), (1L, 6), (2L, 3), (2L, 6), (5L, 3), (7L, 2), (7L, 6), (6L, 6) })
        {
            using var scope = NewDisposeScope();
            var input = map.narrow(2, 0, side).narrow(3, 0, side).contiguous();
            var expected = nn.functional.adaptive_avg_pool2d(input, [scale, scale]);
            var matrix = tensor(BeitOnnxSegmentation.AdaptivePoolMatrix(side, scale), [side * side, (long)scale * scale]);
            var actual = input.reshape(1, 2, -1).matmul(matrix).reshape(1, 2, scale, scale);
            Compare($"adaptive average pooling {side}x{side} to {scale}x{scale}", "pooled", actual, expected);
        }
    }

    static void CompareWithTorchSharp(nn.Module model, InferenceSession session, Tensor pixels, string what)
    {
        var torchOutputs = BeitNamedOutputs.Compute(model, pixels);
        var onnxOutputs = Run(session, pixels);
        try
        {
            Compare(what, "logits", onnxOutputs["logits"], torchOutputs["logits"]);
            Compare(what, "upsampled_logits/upsampled_scores", onnxOutputs["upsampled_logits"], torchOutputs["upsampled_scores"]);
        }
        finally
        {
            Dispose(torchOutputs);
            Dispose(onnxOutputs);
        }
    }
}
