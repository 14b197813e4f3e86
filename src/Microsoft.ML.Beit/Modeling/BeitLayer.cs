using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// One transformer block: <c>x + lambda_1 * attention(layernorm_before(x))</c>, then
/// <c>x + lambda_2 * mlp(layernorm_after(x))</c>, each branch under stochastic depth.
/// Without layer scale the lambdas are absent and the branches are added unscaled.
/// </summary>
public sealed class BeitLayer : nn.Module<Tensor, Tensor?, bool, (Tensor Output, Tensor? Probabilities)>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>Attention and its projection.</summary>
    public readonly BeitAttention attention;
    /// <summary>First MLP layer.</summary>
    public readonly BeitIntermediate intermediate;
    /// <summary>Second MLP layer.</summary>
    public readonly BeitOutput output;
    /// <summary>LayerNorm before the attention (unilm <c>norm1</c>).</summary>
    public readonly LayerNorm layernorm_before;
    /// <summary>LayerNorm before the MLP (unilm <c>norm2</c>).</summary>
    public readonly LayerNorm layernorm_after;
    /// <summary>Layer scale of the attention branch (unilm <c>gamma_1</c>); null without layer scale.</summary>
    public readonly Parameter? lambda_1;
    /// <summary>Layer scale of the MLP branch (unilm <c>gamma_2</c>); null without layer scale.</summary>
    public readonly Parameter? lambda_2;
    /// <summary>Stochastic depth on both branches.</summary>
    public readonly BeitDropPath drop_path;
#pragma warning restore IDE1006

    /// <summary>Builds a block for <paramref name="config"/> with stochastic-depth rate <paramref name="dropPathRate"/>.</summary>
    public BeitLayer(BeitConfig config, double dropPathRate) : base(nameof(BeitLayer))
    {
        attention = new BeitAttention(config);
        intermediate = new BeitIntermediate(config);
        output = new BeitOutput(config);
        layernorm_before = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        layernorm_after = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        if (config.LayerScaleInitValue > 0)
        {
            lambda_1 = new Parameter(full(config.HiddenSize, config.LayerScaleInitValue));
            lambda_2 = new Parameter(full(config.HiddenSize, config.LayerScaleInitValue));
        }
        drop_path = new BeitDropPath(dropPathRate);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override (Tensor Output, Tensor? Probabilities) forward(Tensor hiddenStates, Tensor? sharedBias, bool outputAttentions)
    {
        using var scope = NewDisposeScope();
        var (attended, probabilities) = attention.forward(layernorm_before.forward(hiddenStates), sharedBias, outputAttentions);
        if (lambda_1 is not null) attended = lambda_1 * attended;
        var x = ScalarOps.Add(hiddenStates, drop_path.forward(attended));

        var mlp = output.forward(intermediate.forward(layernorm_after.forward(x)));
        if (lambda_2 is not null) mlp = lambda_2 * mlp;
        x = ScalarOps.Add(x, drop_path.forward(mlp));
        return (x.MoveToOuterDisposeScope(), probabilities?.MoveToOuterDisposeScope());
    }
}
