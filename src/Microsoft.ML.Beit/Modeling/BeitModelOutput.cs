using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>What the backbone returns. Dispose it (or let a dispose scope own it) to free the tensors.</summary>
/// <param name="LastHiddenState">[B, 1 + N, D]: the last block's output, final-normed for CLS-pooling models.</param>
/// <param name="PoolerOutput">[B, D] pooled features; null when the model has no pooler.</param>
/// <param name="HiddenStates">On request: the embeddings, then every block's output (L + 1 tensors, before any final norm).</param>
/// <param name="Attentions">On request: every block's [B, heads, T, T] attention probabilities.</param>
public sealed record BeitModelOutput(
    Tensor LastHiddenState, Tensor? PoolerOutput, IReadOnlyList<Tensor>? HiddenStates, IReadOnlyList<Tensor>? Attentions) : IDisposable
{
    IEnumerable<Tensor?> All => [LastHiddenState, PoolerOutput, .. HiddenStates ?? [], .. Attentions ?? []];

    /// <summary>Moves every tensor (each once) to the enclosing dispose scope, for callers that return this output from their own scope.</summary>
    public void MoveToOuterDisposeScope() => TensorScopes.MoveToOuter(All);

    /// <summary>Disposes every tensor of the output.</summary>
    public void Dispose() => TensorScopes.Dispose(All);
}
