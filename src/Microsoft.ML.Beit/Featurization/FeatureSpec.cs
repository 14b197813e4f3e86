using Microsoft.ML.Beit.Modeling;

namespace Microsoft.ML.Beit.Featurization;

/// <summary>
/// What a featurizer outputs, decided once for both engines (TorchSharp's <see cref="BeitFeaturizerEngine"/> and the ONNX
/// export): which hidden state is pooled, whether it is the last one (where the model's final norm applies), and the
/// vector's length.
/// </summary>
/// <param name="Pooling">How the tokens become one vector.</param>
/// <param name="Layer">The hidden state pooled: 0 the embeddings, k block k's output.</param>
/// <param name="IsLastLayer">Whether <paramref name="Layer"/> is the last block's output.</param>
/// <param name="FeatureSize">Floats per image.</param>
internal sealed record FeatureSpec(BeitPooling Pooling, int Layer, bool IsLastLayer, int FeatureSize)
{
    /// <summary>
    /// The spec for <paramref name="layerOption"/> (0..L, or -1..-(L + 1) from the end) of a model with
    /// <paramref name="config"/>; <paramref name="parameterName"/> names the option in the errors.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The layer does not exist, or attention is asked of the embeddings.</exception>
    public static FeatureSpec Of(BeitConfig config, BeitPooling pooling, int layerOption, string parameterName)
    {
        int layers = config.NumHiddenLayers;
        int layer = layerOption < 0 ? layers + 1 + layerOption : layerOption;
        if (layer < 0 || layer > layers)
            throw new ArgumentOutOfRangeException(parameterName, layerOption,
                $"Layer {layerOption} does not exist: the model has {layers} blocks (use 0..{layers}, or -1..-{layers + 1} from the end).");
        if (pooling == BeitPooling.ClsAttention && layer == 0)
            throw new ArgumentOutOfRangeException(parameterName, layerOption,
                $"Layer 0 is the embeddings, which have no attention; use a block, 1..{layers} (or -1 for the last).");
        return new FeatureSpec(pooling, layer, layer == layers, FeatureSizeOf(config, pooling));
    }

    /// <summary>Floats per image for <paramref name="pooling"/>: every patch token, every head's attention to every patch, or one token's width.</summary>
    public static int FeatureSizeOf(BeitConfig config, BeitPooling pooling) => pooling switch
    {
        BeitPooling.Tokens => config.NumPatches * config.HiddenSize,
        BeitPooling.ClsAttention => config.NumAttentionHeads * config.NumPatches,
        _ => config.HiddenSize,
    };
}
