using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// One vector per image: the mean of the patch tokens followed by a LayerNorm (<c>use_mean_pooling</c>,
/// unilm <c>fc_norm</c>), or else the CLS token of the final-normed sequence.
/// </summary>
public sealed class BeitPooler : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The LayerNorm after mean pooling; null for CLS pooling.</summary>
    public readonly LayerNorm? layernorm;
#pragma warning restore IDE1006

    /// <summary>Builds the pooler for <paramref name="config"/>.</summary>
    public BeitPooler(BeitConfig config) : base(nameof(BeitPooler))
    {
        if (config.UseMeanPooling)
            layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>[B, 1 + N, D] sequence to [B, D].</summary>
    public override Tensor forward(Tensor sequence)
    {
        using var scope = NewDisposeScope();
        var pooled = layernorm is null
            ? sequence.select(1, 0)
            : layernorm.forward(sequence.narrow(1, 1, sequence.shape[1] - 1).mean([1]));
        return pooled.MoveToOuterDisposeScope();
    }
}
