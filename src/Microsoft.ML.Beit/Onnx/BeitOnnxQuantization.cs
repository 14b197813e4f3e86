namespace Microsoft.ML.Beit.Onnx;

/// <summary>How <see cref="BeitOnnxExporter"/> stores the weights of the transformer's linear layers.</summary>
public enum BeitOnnxQuantization
{
    /// <summary>Float32 weights and arithmetic throughout (the default).</summary>
    None = 0,

    /// <summary>
    /// Dynamic int8 quantization of the backbone's linear layers (query, key, value, attention output, MLP): their weights are stored as int8, symmetric per output channel (zero point 0, scale
    /// max |w| / 127), and their inputs are quantized to uint8 at run time (<c>DynamicQuantizeLinear</c>) before an integer
    /// <c>MatMulInteger</c>. The weights of those layers take a quarter of the space. Patch embedding, LayerNorm,
    /// attention between activations, GELU, and the heads (classifier, masked image modeling, segmentation) stay float32. It speeds scoring on CPUs with int8 dot-product
    /// instructions (AVX512-VNNI or AVX-VNNI on x64, the dot-product extension on Arm64); elsewhere it may be slower than float32.
    /// </summary>
    Int8Dynamic = 1,
}
