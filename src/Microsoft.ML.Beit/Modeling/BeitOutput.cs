using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The second MLP layer (unilm <c>mlp.fc2</c>).</summary>
public sealed class BeitOutput : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>Intermediate-size to D projection.</summary>
    public readonly Linear dense;
    /// <summary>Dropout during training.</summary>
    public readonly Dropout dropout;
#pragma warning restore IDE1006

    /// <summary>Builds the layer for <paramref name="config"/>.</summary>
    public BeitOutput(BeitConfig config) : base(nameof(BeitOutput))
    {
        dense = nn.Linear(config.IntermediateSize, config.HiddenSize);
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
