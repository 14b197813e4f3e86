using Microsoft.ML.Beit.Modeling;
using static Microsoft.ML.Beit.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>
/// Emits the segmentation part of <see cref="BeitForSemanticSegmentation"/> as ONNX nodes: the hidden states chosen by
/// <c>out_indices</c>, the four necks and the UperNet <see cref="BeitUperHead"/> (the auxiliary head trains only and is
/// left out). The spatial sizes are fixed by the config, so adaptive average pooling becomes a MatMul with an exact
/// averaging matrix, and every resize is a linear <c>Resize</c> with half-pixel coordinates (PyTorch's bilinear,
/// align_corners false, no antialiasing).
/// </summary>
internal sealed class BeitOnnxSegmentation(OnnxGraphBuilder graph, BeitConfig config, BeitOnnxWeights weights)
{
    /// <summary>BatchNorm's epsilon in every neck and head layer (PyTorch's default, as the model builds them).</summary>
    const float BatchNormEpsilon = 1e-5f;

    readonly OnnxGraphBuilder _g = graph;
    readonly BeitConfig _c = config;
    readonly BeitOnnxWeights _w = weights;
    readonly long _d = config.HiddenSize;

    string Weight(string key, params long[] shape) => _g.Float(key, _w.Read(key, shape), shape);

    /// <summary>
    /// Adds the <c>logits</c> output [B, classes, 4G, 4G] (G the patch grid) and, when <paramref name="upsampled"/>,
    /// <c>upsampled_logits</c> at the input's size; <paramref name="hidden"/> are the encoder's hidden states
    /// (0 = embeddings, k = block k-1's output).
    /// </summary>
    public void Build(IReadOnlyList<string> hidden, bool upsampled)
    {
        var selected = _c.OutIndices.Order().Select(k => hidden[_c.UsesUnilmOutIndices ? k + 1 : k - 1]).ToList();
        var features = new string[4];
        for (int i = 0; i < 4; i++)
            features[i] = Neck(FeatureMap(selected[i], $"features_{i}.map"), i);
        var logits = UperHead(features);
        long side = 4L * _c.PatchGridSize;
        _g.Output(logits, BeitOnnxExporter.Logits,
            $"float32 [batch, {_c.NumLabels}, {side}, {side}] class logits at a quarter of the input's resolution; class names in beit.config id2label",
            "batch", _c.NumLabels, side, side);
        if (upsampled)
            _g.Output(Resize(logits, _c.ImageSize, _c.ImageSize, "upsampled_logits.resize"), BeitOnnxExporter.UpsampledLogits,
                $"float32 [batch, {_c.NumLabels}, {_c.ImageSize}, {_c.ImageSize}] logits bilinearly resized to the input (align_corners false)",
                "batch", _c.NumLabels, _c.ImageSize, _c.ImageSize);
    }

    // [B, 1 + N, D] tokens to a [B, D, G, G] map: CLS dropped, row-major patches.
    string FeatureMap(string tokens, string name)
    {
        long g = _c.PatchGridSize;
        var patches = _g.Node("Slice", $"{name}.patches", [tokens, Ints("start_1", 1), Ints("end_tokens", g * g + 1), Ints("axis_1", 1)]);
        var channelsFirst = _g.Node("Transpose", $"{name}.channels_first", [patches], AttrInts("perm", 0, 2, 1));
        return _g.Node("Reshape", name, [channelsFirst, Ints("shape_keep0_d_g_g", 0, _d, g, g)]);
    }

    readonly Dictionary<string, string> _ints = new(StringComparer.Ordinal);

    string Ints(string name, params long[] values) =>
        _ints.TryGetValue(name, out var existing) ? existing : (_ints[name] = _g.Int64(name, values));

    string Neck(string map, int index) => index switch
    {
        0 => ConvTranspose(Gelu(BatchNorm(ConvTranspose(map, "fpn1.0"), "fpn1.1"), "fpn1.2"), "fpn1.3"),
        1 => ConvTranspose(map, "fpn2.0"),
        2 => map,
        _ => _g.Node("MaxPool", "fpn4.out", [map], AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2)),
    };

    // ConvTranspose2d(D, D, 2, stride 2): the weight is [in, out, kH, kW], the layout ONNX ConvTranspose takes.
    string ConvTranspose(string x, string prefix) =>
        _g.Node("ConvTranspose", $"{prefix}.out", [x, Weight($"{prefix}.weight", _d, _d, 2, 2), Weight($"{prefix}.bias", _d)],
            AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2));

    // Inference BatchNorm with the running statistics.
    string BatchNorm(string x, string prefix, long channels = 0)
    {
        long c = channels > 0 ? channels : _d;
        return _g.Node("BatchNormalization", $"{prefix}.out",
            [x, Weight($"{prefix}.weight", c), Weight($"{prefix}.bias", c), Weight($"{prefix}.running_mean", c), Weight($"{prefix}.running_var", c)],
            AttrFloat("epsilon", BatchNormEpsilon));
    }

    // Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
    string Gelu(string x, string name)
    {
        var erf = _g.Node("Erf", $"{name}.erf", [_g.Node("Mul", $"{name}.scaled", [x, _g.Scalar($"{name}.inv_sqrt2", (float)(1 / Math.Sqrt(2)))])]);
        var half = _g.Node("Mul", $"{name}.half_x", [x, _g.Scalar($"{name}.half", 0.5f)]);
        return _g.Node("Mul", $"{name}.out", [half, _g.Node("Add", $"{name}.one_plus_erf", [erf, _g.Scalar($"{name}.one", 1f)])]);
    }

    // BeitConvModule: a bias-free convolution, BatchNorm, ReLU.
    string ConvModule(string x, string prefix, long inChannels, long kernel, long padding)
    {
        var conv = _g.Node("Conv", $"{prefix}.conv.out", [x, Weight($"{prefix}.conv.weight", _d, inChannels, kernel, kernel)],
            AttrInts("kernel_shape", kernel, kernel), AttrInts("pads", padding, padding, padding, padding));
        return _g.Node("Relu", $"{prefix}.out", [BatchNorm(conv, $"{prefix}.bn")]);
    }

    string UperHead(string[] features)
    {
        const string p = "decode_head";
        var laterals = new string[4];
        for (int i = 0; i < 3; i++) laterals[i] = ConvModule(features[i], $"{p}.lateral_convs.{i}", _d, 1, 0);
        laterals[3] = PspForward(features[3], Side(3));
        for (int i = 3; i > 0; i--)
            laterals[i - 1] = _g.Node("Add", $"{p}.top_down_{i - 1}", [laterals[i - 1], Resize(laterals[i], Side(i - 1), Side(i - 1), $"{p}.top_down_{i}.resize")]);
        var outputs = new string[4];
        for (int i = 0; i < 3; i++) outputs[i] = ConvModule(laterals[i], $"{p}.fpn_convs.{i}", _d, 3, 1);
        outputs[3] = laterals[3];
        for (int i = 1; i < 4; i++) outputs[i] = Resize(outputs[i], Side(0), Side(0), $"{p}.fpn_out_{i}.resize");
        var fused = ConvModule(_g.Node("Concat", $"{p}.fpn_concat", outputs, AttrInt("axis", 1)), $"{p}.fpn_bottleneck", 4 * _d, 3, 1);
        return _g.Node("Conv", $"{p}.classifier.out",
            [fused, Weight($"{p}.classifier.weight", _c.NumLabels, _d, 1, 1), Weight($"{p}.classifier.bias", _c.NumLabels)],
            AttrInts("kernel_shape", 1, 1));
    }

    // The side of neck i's map: 4G, 2G, G, floor(G / 2).
    long Side(int neck)
    {
        long g = _c.PatchGridSize;
        return neck switch { 0 => 4 * g, 1 => 2 * g, 2 => g, _ => g / 2 };
    }

    // BeitUperHead.PspForward: each pooled branch resized back, concatenated after the map, fused by the bottleneck.
    string PspForward(string map, long side)
    {
        const string p = "decode_head";
        var branches = new List<string> { map };
        for (int i = 0; i < _c.PoolScales.Count; i++)
        {
            int s = _c.PoolScales[i];
            var pooled = AdaptiveAveragePool(map, side, s, $"{p}.psp_modules.{i}.0");
            var projected = ConvModule(pooled, $"{p}.psp_modules.{i}.1", _d, 1, 0);
            branches.Add(Resize(projected, side, side, $"{p}.psp_modules.{i}.resize"));
        }
        var concat = _g.Node("Concat", $"{p}.psp_concat", [.. branches], AttrInt("axis", 1));
        return ConvModule(concat, $"{p}.bottleneck", _d * (1 + _c.PoolScales.Count), 3, 1);
    }

    // AdaptiveAvgPool2d(s) on a side x side map: [B, C, side * side] x M^T with M [s * s, side * side] PyTorch's bin averages.
    string AdaptiveAveragePool(string map, long side, int s, string name)
    {
        var m = AdaptivePoolMatrix(side, s);
        var flat = _g.Node("Reshape", $"{name}.flat", [map, Ints("shape_keep0_keep1_rest", 0, 0, -1)]);
        var pooled = _g.Node("MatMul", $"{name}.pooled", [flat, _g.Float($"{name}.averaging_t", m, side * side, (long)s * s)]);
        return _g.Node("Reshape", $"{name}.out", [pooled, Ints($"shape_keep0_keep1_{s}_{s}", 0, 0, s, s)]);
    }

    /// <summary>
    /// The transposed averaging matrix [side * side, s * s] of AdaptiveAvgPool2d(s): output bin (i, j) averages rows
    /// floor(i side / s) .. ceil((i + 1) side / s) - 1 and the same columns (bins overlap when s does not divide side).
    /// </summary>
    internal static float[] AdaptivePoolMatrix(long side, int s)
    {
        var m = new float[side * side * s * s];
        for (int i = 0; i < s; i++)
            for (int j = 0; j < s; j++)
            {
                long r0 = i * side / s, r1 = ((i + 1) * side + s - 1) / s;
                long c0 = j * side / s, c1 = ((j + 1) * side + s - 1) / s;
                float weight = 1f / ((r1 - r0) * (c1 - c0));
                for (long r = r0; r < r1; r++)
                    for (long c = c0; c < c1; c++)
                        m[(r * side + c) * s * s + i * s + j] = weight;
            }
        return m;
    }

    // Bilinear resize to height x width (align_corners false = half_pixel; opset 17 Resize does not antialias).
    string Resize(string x, long height, long width, string name)
    {
        var leading = _g.Node("Shape", $"{name}.leading", [x], AttrInt("start", 0), AttrInt("end", 2));
        var sizes = _g.Node("Concat", $"{name}.sizes", [leading, Ints($"size_{height}_{width}", height, width)], AttrInt("axis", 0));
        return _g.Node("Resize", name, [x, "", "", sizes],
            AttrString("mode", "linear"), AttrString("coordinate_transformation_mode", "half_pixel"));
    }
}
