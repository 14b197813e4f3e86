using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>What the segmentation model returns.</summary>
/// <param name="Logits">[B, classes, H/4, W/4] class scores of the decode head (not upsampled).</param>
/// <param name="AuxiliaryLogits">[B, classes, H/16, W/16] scores of the auxiliary head, when asked for.</param>
/// <param name="Features">The four neck outputs (1/4 .. 1/32), when asked for.</param>
/// <param name="Backbone">The backbone's output with every hidden state, when asked for.</param>
public sealed record BeitSemanticSegmenterOutput(
    Tensor Logits, Tensor? AuxiliaryLogits, IReadOnlyList<Tensor>? Features, BeitModelOutput? Backbone) : IDisposable
{
    IEnumerable<Tensor?> All => [Logits, AuxiliaryLogits, .. Features ?? []];

    /// <summary>Moves every tensor to the enclosing dispose scope.</summary>
    public void MoveToOuterDisposeScope()
    {
        TensorScopes.MoveToOuter(All);
        Backbone?.MoveToOuterDisposeScope();
    }

    /// <summary>Disposes every tensor of the output.</summary>
    public void Dispose()
    {
        TensorScopes.Dispose(All);
        Backbone?.Dispose();
    }
}

/// <summary>The segmentation loss and its parts.</summary>
/// <param name="Total">Main loss plus the weighted auxiliary loss: what to back-propagate.</param>
/// <param name="Main">Cross-entropy of the decode head.</param>
/// <param name="Auxiliary">Cross-entropy of the auxiliary head, if it ran.</param>
public sealed record BeitSegmentationLoss(Tensor Total, Tensor Main, Tensor? Auxiliary) : IDisposable
{
    /// <summary>Moves every tensor to the enclosing dispose scope.</summary>
    public void MoveToOuterDisposeScope() => TensorScopes.MoveToOuter([Total, Main, Auxiliary]);

    /// <summary>Disposes every tensor.</summary>
    public void Dispose() => TensorScopes.Dispose([Total, Main, Auxiliary]);
}
