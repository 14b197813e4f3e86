using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The output projection of the attention (unilm <c>attn.proj</c>).</summary>
public sealed class BeitSelfOutput : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>D x D projection.</summary>
    public readonly Linear dense;
    /// <summary>Dropout during training.</summary>
    public readonly Dropout dropout;
#pragma warning restore IDE1006

    /// <summary>Builds the projection for <paramref name="config"/>.</summary>
    public BeitSelfOutput(BeitConfig config) : base(nameof(BeitSelfOutput))
    {
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return dropout.forward(dense.forward(input)).MoveToOuterDisposeScope();
    }
}
