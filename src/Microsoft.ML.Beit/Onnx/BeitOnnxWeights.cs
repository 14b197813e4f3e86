using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>
/// Reads the weights the exporter needs, under Hugging Face names (<c>beit.encoder.layer.0...</c>), as float32
/// arrays, checking each shape against the config so that a mismatch names the key and both shapes.
/// </summary>
internal sealed class BeitOnnxWeights(IReadOnlyDictionary<string, Tensor> weights, string source)
{
    public bool Has(string key) => weights.ContainsKey(key);

    public float[] Read(string key, params long[] shape)
    {
        if (!weights.TryGetValue(key, out var tensor))
            throw new InvalidDataException(
                $"{source} has no weight '{key}' (needed by its config); the weights do not fit the config, or are not a BEiT model of this library.");
        if (!tensor.shape.SequenceEqual(shape))
            throw new InvalidDataException(
                $"{source}: weight '{key}' is [{string.Join(", ", tensor.shape)}] but the config needs [{string.Join(", ", shape)}].");
        using var scope = NewDisposeScope();
        return tensor.detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();
    }

    /// <summary>A [out, in] linear weight as the [in, out] matrix that <c>MatMul(x, W)</c> needs.</summary>
    public float[] ReadTransposed(string key, int outFeatures, int inFeatures)
    {
        var w = Read(key, outFeatures, inFeatures);
        var t = new float[w.Length];
        for (int o = 0; o < outFeatures; o++)
            for (int i = 0; i < inFeatures; i++)
                t[i * outFeatures + o] = w[o * inFeatures + i];
        return t;
    }
}
