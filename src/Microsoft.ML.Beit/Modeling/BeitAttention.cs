using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>Self-attention followed by its output projection (Hugging Face <c>attention</c>).</summary>
public sealed class BeitAttention : nn.Module<Tensor, Tensor?, bool, (Tensor Output, Tensor? Probabilities)>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The multi-head attention.</summary>
    public readonly BeitSelfAttention attention;
    /// <summary>The output projection.</summary>
    public readonly BeitSelfOutput output;
#pragma warning restore IDE1006

    /// <summary>Builds the attention for <paramref name="config"/>.</summary>
    public BeitAttention(BeitConfig config) : base(nameof(BeitAttention))
    {
        attention = new BeitSelfAttention(config);
        output = new BeitSelfOutput(config);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override (Tensor Output, Tensor? Probabilities) forward(Tensor hiddenStates, Tensor? sharedBias, bool outputAttentions)
    {
        using var scope = NewDisposeScope();
        var (context, probabilities) = attention.forward(hiddenStates, sharedBias, outputAttentions);
        return (output.forward(context).MoveToOuterDisposeScope(), probabilities?.MoveToOuterDisposeScope());
    }
}
