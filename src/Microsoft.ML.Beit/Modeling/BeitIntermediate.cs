using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The first MLP layer and its activation (unilm <c>mlp.fc1</c>).</summary>
public sealed class BeitIntermediate : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>D to intermediate-size projection.</summary>
    public readonly Linear dense;
#pragma warning restore IDE1006

    readonly Func<Tensor, Tensor> _activation;

    /// <summary>Builds the layer for <paramref name="config"/>.</summary>
    public BeitIntermediate(BeitConfig config) : base(nameof(BeitIntermediate))
    {
        dense = nn.Linear(config.HiddenSize, config.IntermediateSize);
        _activation = BeitActivation.Get(config.HiddenAct);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return _activation(dense.forward(input)).MoveToOuterDisposeScope();
    }
}
