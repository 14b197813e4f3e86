using Microsoft.ML.Beit.Modeling;
using static Microsoft.ML.Beit.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>
/// Emits the BEiT network as ONNX nodes, piece by piece in the order of the TorchSharp modules
/// (<see cref="BeitEmbeddings"/>, <see cref="BeitLayer"/>, <see cref="BeitPooler"/>), reading weights under
/// Hugging Face names. Values are named after the module they come from, so the graph reads like the model.
/// </summary>
internal sealed class BeitOnnxGraph
{
    readonly OnnxGraphBuilder _g;
    readonly BeitConfig _c;
    readonly BeitOnnxWeights _w;
    readonly int _d, _tokens;
    readonly BeitOnnxQuantization _quantization;
    readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    // The uint8 form (value, scale, zero point) of each value a quantized linear layer reads.
    readonly Dictionary<string, string[]> _quantizedInputs = new(StringComparer.Ordinal);

    public BeitOnnxGraph(OnnxGraphBuilder graph, BeitConfig config, BeitOnnxWeights weights, BeitOnnxQuantization quantization = BeitOnnxQuantization.None)
    {
        _quantization = quantization;
        _g = graph;
        _c = config;
        _w = weights;
        _d = config.HiddenSize;
        _tokens = config.NumPatches + 1;
    }

    // One initializer per distinct constant, shared by every node that uses it.
    string Constant(string name, float value) =>
        _constants.TryGetValue(name, out var existing) ? existing : (_constants[name] = _g.Scalar(name, value));

    string Shape(string name, params long[] dims) =>
        _constants.TryGetValue(name, out var existing) ? existing : (_constants[name] = _g.Int64(name, dims));

    string Weight(string key, params long[] shape) => _g.Float(key, _w.Read(key, shape), shape);

    /// <summary>
    /// [B, C, H, W] pixels to [B, 1 + N, D] embeddings: patch convolution, the mask token at masked patches (when
    /// <paramref name="mask"/> names a float [B, N] input, 1 = masked), CLS token in front, absolute positions.
    /// </summary>
    public string Embeddings(string pixels, string? mask = null)
    {
        int p = _c.PatchSize, channels = _c.NumChannels;
        const string prefix = "beit.embeddings";
        var conv = _g.Node("Conv", "patch_embeddings",
            [pixels, Weight($"{prefix}.patch_embeddings.projection.weight", _d, channels, p, p), Weight($"{prefix}.patch_embeddings.projection.bias", _d)],
            AttrInts("kernel_shape", p, p), AttrInts("strides", p, p));
        // [B, D, gh, gw] -> [B, D, N] -> [B, N, D]: patches in row-major order, as flatten(2).transpose(1, 2).
        var flat = _g.Node("Reshape", "patch_embeddings_flat", [conv, Shape("shape_keep0_d_rest", 0, _d, -1)]);
        var patches = _g.Node("Transpose", "patch_tokens", [flat], AttrInts("perm", 0, 2, 1));
        if (mask is not null)
        {
            // x - x w + mask_token w with w in {0, 1}, as BeitEmbeddings writes it, before the CLS token and positions.
            var w = _g.Node("Unsqueeze", "mask_weights", [mask, Shape("axes_2", 2)]);
            var kept = _g.Node("Sub", "patch_tokens_unmasked", [patches, _g.Node("Mul", "patch_tokens_masked_part", [patches, w])]);
            patches = _g.Node("Add", "patch_tokens_masked", [kept, _g.Node("Mul", "mask_tokens", [Weight($"{prefix}.mask_token", 1, 1, _d), w])]);
        }

        var batch = _g.Node("Shape", "batch_size", [pixels], AttrInt("start", 0), AttrInt("end", 1));
        var clsShape = _g.Node("Concat", "cls_shape", [batch, Shape("shape_1_d", 1, _d)], AttrInt("axis", 0));
        var cls = _g.Node("Expand", "cls_tokens", [Weight($"{prefix}.cls_token", 1, 1, _d), clsShape]);
        var x = _g.Node("Concat", "embeddings", [cls, patches], AttrInt("axis", 1));
        if (_c.UseAbsolutePositionEmbeddings)
            x = _g.Node("Add", "embeddings_with_positions", [x, Weight($"{prefix}.position_embeddings", 1, _tokens, _d)]);
        return x;
    }

    /// <summary>
    /// The [heads, T, T] attention bias of block <paramref name="layer"/> (its own table plus the shared one),
    /// gathered from the tables at export time; null when the model has no relative position bias.
    /// </summary>
    public float[]? RelativePositionBias(int layer)
    {
        float[]? bias = null;
        if (_c.UseSharedRelativePositionBias)
            bias = GatherBias("beit.encoder.relative_position_bias.relative_position_bias_table");
        if (_c.UseRelativePositionBias)
        {
            var own = GatherBias($"beit.encoder.layer.{layer}.attention.attention.relative_position_bias.relative_position_bias_table");
            if (bias is not null)
                for (int i = 0; i < own.Length; i++) own[i] += bias[i];
            bias = own;
        }
        return bias;
    }

    float[] GatherBias(string key)
    {
        int grid = _c.PatchGridSize, heads = _c.NumAttentionHeads, t = _tokens;
        var table = _w.Read(key, BeitRelativePositionBias.TableRows(grid, grid), heads);
        var index = BeitRelativePositionBias.ComputeIndex(grid, grid);
        var bias = new float[heads * t * t];
        for (int h = 0; h < heads; h++)
            for (int ij = 0; ij < t * t; ij++)
                bias[h * t * t + ij] = table[index[ij] * heads + h];
        return bias;
    }

    /// <summary>One transformer block (<see cref="BeitLayer"/>); <paramref name="bias"/> names a [heads, T, T] initializer or is null.</summary>
    public string Layer(string x, int layer, string? bias)
    {
        string p = $"beit.encoder.layer.{layer}";
        var attended = Attention(LayerNorm(x, $"{p}.layernorm_before"), p, bias);
        if (_c.LayerScaleInitValue > 0)
            attended = _g.Node("Mul", $"{p}.lambda_1.out", [attended, Weight($"{p}.lambda_1", _d)]);
        x = _g.Node("Add", $"{p}.attention.residual", [x, attended]);

        var mlp = Linear(LayerNorm(x, $"{p}.layernorm_after"), $"{p}.intermediate.dense", _d, _c.IntermediateSize);
        mlp = Activation(mlp, $"{p}.intermediate");
        mlp = Linear(mlp, $"{p}.output.dense", _c.IntermediateSize, _d);
        if (_c.LayerScaleInitValue > 0)
            mlp = _g.Node("Mul", $"{p}.lambda_2.out", [mlp, Weight($"{p}.lambda_2", _d)]);
        return _g.Node("Add", $"{p}.output", [x, mlp]);
    }

    string Attention(string x, string p, string? bias)
    {
        int heads = _c.NumAttentionHeads, headSize = _c.HeadSize;
        string a = $"{p}.attention.attention";
        var headShape = Shape("shape_keep0_keep1_heads_headsize", 0, 0, heads, headSize);
        string Heads(string value, string name, params long[] perm) =>
            _g.Node("Transpose", $"{a}.{name}.heads", [_g.Node("Reshape", $"{a}.{name}.split", [value, headShape])], AttrInts("perm", perm));

        var q = Heads(Linear(x, $"{a}.query", _d, _d), "query", 0, 2, 1, 3);                  // [B, h, T, d]
        var k = Heads(Linear(x, $"{a}.key", _d, _d, bias: false), "key", 0, 2, 3, 1);        // [B, h, d, T]
        var v = Heads(Linear(x, $"{a}.value", _d, _d), "value", 0, 2, 1, 3);                  // [B, h, T, d]
        q = _g.Node("Mul", $"{a}.query.scaled", [q, Constant("attention_scale", (float)(1.0 / Math.Sqrt(headSize)))]);
        var scores = _g.Node("MatMul", $"{a}.scores", [q, k]);
        if (bias is not null)
            scores = _g.Node("Add", $"{a}.scores_biased", [scores, bias]);
        var probabilities = _g.Node("Softmax", $"{a}.probabilities", [scores], AttrInt("axis", -1));
        AttentionProbabilities.Add(probabilities);
        var context = _g.Node("MatMul", $"{a}.context_heads", [probabilities, v]);
        context = _g.Node("Transpose", $"{a}.context_tokens", [context], AttrInts("perm", 0, 2, 1, 3));
        context = _g.Node("Reshape", $"{a}.context", [context, Shape("shape_keep0_keep1_d", 0, 0, _d)]);
        return Linear(context, $"{p}.attention.output.dense", _d, _d);
    }

    /// <summary>
    /// x W^T + b for a [out, in] weight: a MatMul on a pre-transposed initializer, then Add; with
    /// <see cref="BeitOnnxQuantization.Int8Dynamic"/> and <paramref name="quantizable"/> (the backbone's layers, not the heads)
    /// the int8 form of <see cref="QuantizedLinear"/>.
    /// </summary>
    public string Linear(string x, string prefix, int inFeatures, int outFeatures, bool bias = true, bool quantizable = true)
    {
        var wt = _w.ReadTransposed($"{prefix}.weight", outFeatures, inFeatures);
        var y = quantizable && _quantization == BeitOnnxQuantization.Int8Dynamic
            ? QuantizedLinear(x, prefix, wt, inFeatures, outFeatures)
            : _g.Node("MatMul", $"{prefix}.matmul", [x, _g.Float($"{prefix}.weight_t", wt, inFeatures, outFeatures)]);
        return bias ? _g.Node("Add", $"{prefix}.out", [y, Weight($"{prefix}.bias", outFeatures)]) : y;
    }

    /// <summary>
    /// x W^T with int8 weights: x is quantized to uint8 per tensor at run time (DynamicQuantizeLinear), multiplied by the
    /// int8 weight in integers (MatMulInteger), and the int32 result scaled back by x's scale times each column's scale.
    /// This is the pattern ONNX Runtime's own dynamic quantizer writes. Its graph optimizer fuses each layer, with the bias
    /// Add that follows, into MatMulIntegerToFloat, and into DynamicQuantizeMatMul where the quantized input feeds that layer
    /// alone; the fusion needs a scale Mul of its own per layer. Layers that read the same input (query, key, value)
    /// share one DynamicQuantizeLinear.
    /// </summary>
    string QuantizedLinear(string x, string prefix, float[] weightTransposed, int inFeatures, int outFeatures)
    {
        var (weights, scales) = QuantizePerColumn(weightTransposed, inFeatures, outFeatures);
        if (!_quantizedInputs.TryGetValue(x, out var q))
            _quantizedInputs[x] = q = _g.NodeOutputs("DynamicQuantizeLinear", [$"{prefix}.input_q", $"{prefix}.input_scale", $"{prefix}.input_zero_point"], [x]);
        var product = _g.Node("MatMulInteger", $"{prefix}.matmul_int32", [q[0], _g.Int8($"{prefix}.weight_t_int8", weights, inFeatures, outFeatures), q[2],
            _g.Int8($"{prefix}.weight_zero_point", new sbyte[outFeatures], outFeatures)]);
        var asFloat = _g.Node("Cast", $"{prefix}.matmul_float", [product], AttrInt("to", (long)global::Onnx.TensorProto.Types.DataType.Float));
        var scale = _g.Node("Mul", $"{prefix}.output_scale", [q[1], _g.Float($"{prefix}.weight_scale", scales, outFeatures)]);
        return _g.Node("Mul", $"{prefix}.matmul", [asFloat, scale]);
    }

    /// <summary>
    /// Symmetric int8 quantization of an [in, out] matrix per output column: scale = max |w| / 127 over the column (1 for an
    /// all-zero column), q = round(w / scale) in [-127, 127], zero point 0.
    /// </summary>
    internal static (sbyte[] Weights, float[] Scales) QuantizePerColumn(float[] weightTransposed, int inFeatures, int outFeatures)
    {
        var scales = new float[outFeatures];
        for (int i = 0; i < inFeatures; i++)
            for (int o = 0; o < outFeatures; o++)
                scales[o] = Math.Max(scales[o], Math.Abs(weightTransposed[i * outFeatures + o]));
        for (int o = 0; o < outFeatures; o++)
            scales[o] = scales[o] > 0 ? scales[o] / 127f : 1f;
        var q = new sbyte[weightTransposed.Length];
        for (int i = 0; i < inFeatures; i++)
            for (int o = 0; o < outFeatures; o++)
                q[i * outFeatures + o] = (sbyte)Math.Clamp(MathF.Round(weightTransposed[i * outFeatures + o] / scales[o], MidpointRounding.ToEven), -127f, 127f);
        return (q, scales);
    }

    /// <summary>LayerNormalization over the last axis with the config's epsilon.</summary>
    public string LayerNorm(string x, string prefix) =>
        _g.Node("LayerNormalization", $"{prefix}.out", [x, Weight($"{prefix}.weight", _d), Weight($"{prefix}.bias", _d)],
            AttrInt("axis", -1), AttrFloat("epsilon", (float)_c.LayerNormEps));

    string Activation(string x, string name) => _c.HiddenAct switch
    {
        // Exact GELU, as torch's default: 0.5 x (1 + erf(x / sqrt 2)). (Opset 17 has no Gelu operator.)
        "gelu" => _g.Node("Mul", $"{name}.gelu", [
            _g.Node("Mul", $"{name}.gelu_half_x", [x, Constant("half", 0.5f)]),
            _g.Node("Add", $"{name}.gelu_one_plus_erf", [
                _g.Node("Erf", $"{name}.gelu_erf", [_g.Node("Mul", $"{name}.gelu_scaled", [x, Constant("inv_sqrt2", (float)(1 / Math.Sqrt(2)))])]),
                Constant("one", 1f)])]),
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => TanhGelu(x, name),
        "quick_gelu" => _g.Node("Mul", $"{name}.quick_gelu", [x,
            _g.Node("Sigmoid", $"{name}.quick_gelu_gate", [_g.Node("Mul", $"{name}.quick_gelu_scaled", [x, Constant("quick_gelu_scale", 1.702f)])])]),
        "relu" => _g.Node("Relu", $"{name}.relu", [x]),
        "silu" or "swish" => _g.Node("Mul", $"{name}.silu", [x, _g.Node("Sigmoid", $"{name}.silu_gate", [x])]),
        _ => throw new NotSupportedException($"hidden_act '{_c.HiddenAct}' has no ONNX export."),
    };

    string TanhGelu(string x, string name)
    {
        var cube = _g.Node("Mul", $"{name}.gelu_x3", [_g.Node("Mul", $"{name}.gelu_x2", [x, x]), x]);
        var inner = _g.Node("Add", $"{name}.gelu_inner", [x, _g.Node("Mul", $"{name}.gelu_cubic", [cube, Constant("gelu_cubic", 0.044715f)])]);
        var tanh = _g.Node("Tanh", $"{name}.gelu_tanh", [_g.Node("Mul", $"{name}.gelu_tanh_in", [inner, Constant("sqrt_2_over_pi", (float)Math.Sqrt(2 / Math.PI))])]);
        return _g.Node("Mul", $"{name}.gelu", [
            _g.Node("Mul", $"{name}.gelu_half_x", [x, Constant("half", 0.5f)]),
            _g.Node("Add", $"{name}.gelu_one_plus_tanh", [tanh, Constant("one", 1f)])]);
    }

    /// <summary>Each built block's attention probabilities [B, heads, T, T], in block order.</summary>
    public List<string> AttentionProbabilities { get; } = [];

    /// <summary>Block <paramref name="block"/>'s (1-based) attention from the CLS token to every patch: [B, heads * N].</summary>
    public string ClsAttention(int block, string name)
    {
        var fromCls = _g.Node("Gather", $"{name}.from_cls", [AttentionProbabilities[block - 1],
            _constants.TryGetValue("cls_index", out var i) ? i : (_constants["cls_index"] = _g.Int64("cls_index", [0], scalar: true))], AttrInt("axis", 2));
        var toPatches = _g.Node("Slice", $"{name}.to_patches", [fromCls, Shape("slice_start_1", 1), Shape("slice_end_tokens", _tokens), Shape("slice_axis_2", 2)]);
        return _g.Node("Reshape", name, [toPatches, Shape("shape_keep0_heads_patches", 0, (long)_c.NumAttentionHeads * _c.NumPatches)]);
    }

    /// <summary>[B, 1 + N, D] to the [B, N, D] patch tokens (the CLS token dropped).</summary>
    public string Patches(string sequence, string name) =>
        _g.Node("Slice", name, [sequence, Shape("slice_start_1", 1), Shape("slice_end_tokens", _tokens), Shape("slice_axis_1", 1)]);

    /// <summary>Mean of the patch tokens: [B, 1 + N, D] to [B, D].</summary>
    public string MeanOfPatches(string sequence, string name) =>
        _g.Node("ReduceMean", name, [Patches(sequence, $"{name}.patches")], AttrInts("axes", 1), AttrInt("keepdims", 0));

    /// <summary>The CLS token: [B, 1 + N, D] to [B, D].</summary>
    public string ClsToken(string sequence, string name) =>
        _g.Node("Gather", name, [sequence, _constants.TryGetValue("cls_index", out var i) ? i : (_constants["cls_index"] = _g.Int64("cls_index", [0], scalar: true))],
            AttrInt("axis", 1));

    /// <summary>All patch tokens flattened per image: [B, 1 + N, D] to [B, N * D].</summary>
    public string FlatPatches(string sequence, string name) =>
        _g.Node("Reshape", name, [Patches(sequence, $"{name}.patches"), Shape("shape_keep0_patches_d", 0, (long)_c.NumPatches * _d)]);

    /// <summary>x / max(||x||_2, 1e-12) per row, as torch's <c>normalize</c>.</summary>
    public string NormalizeL2(string x, string name)
    {
        var norm = _g.Node("ReduceL2", $"{name}.norm", [x], AttrInts("axes", 1), AttrInt("keepdims", 1));
        var clamped = _g.Node("Max", $"{name}.norm_clamped", [norm, Constant("l2_epsilon", 1e-12f)]);
        return _g.Node("Div", name, [x, clamped]);
    }

    /// <summary><c>classifier</c>: [B, D] pooled features to [B, classes] logits (Gemm with the [classes, D] weight as stored).</summary>
    public string Classifier(string pooled)
    {
        int classes = _c.NumLabels;
        return _g.Node("Gemm", "classifier.out", [pooled, Weight("classifier.weight", classes, _d), Weight("classifier.bias", classes)],
            AttrInt("transB", 1));
    }

    /// <summary>
    /// The masked-image-modeling head: the final <c>layernorm</c> on the [B, 1 + N, D] sequence, then <c>lm_head</c>
    /// on the patch tokens, [B, N, vocab].
    /// </summary>
    public string MaskedImageModelingLogits(string sequence) =>
        Linear(Patches(LayerNorm(sequence, "layernorm"), "lm_head.patches"), "lm_head", _d, _c.VocabSize, quantizable: false);

    /// <summary>Adds a [heads, T, T] bias initializer.</summary>
    public string BiasInitializer(string name, float[] bias) => _g.Float(name, bias, _c.NumAttentionHeads, _tokens, _tokens);
}
