using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>Dispose-scope helpers for outputs made of several tensors.</summary>
internal static class TensorScopes
{
    /// <summary>
    /// Moves each distinct tensor one scope out. Outputs often hold the same tensor twice (the last
    /// hidden state is also the last entry of the hidden states); moving it twice would carry it past
    /// the caller's scope, so duplicates are moved once.
    /// </summary>
    public static void MoveToOuter(IEnumerable<Tensor?> tensors)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var t in tensors)
            if (t is not null && seen.Add(t))
                t.MoveToOuterDisposeScope();
    }

    /// <summary>Disposes each distinct tensor once.</summary>
    public static void Dispose(IEnumerable<Tensor?> tensors)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var t in tensors)
            if (t is not null && seen.Add(t))
                t.Dispose();
    }
}
