using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The DALL-E encoder's logits with the activations after each stage (for parity checks and inspection).</summary>
/// <param name="Logits">[B, vocab, H / downsampling, W / downsampling].</param>
/// <param name="AfterInputConv">Output of <c>blocks.input</c>, [B, n_hid, H, W].</param>
/// <param name="AfterGroups">Output of <c>blocks.group_1</c>.. in order (after the group's max pool, if it has one).</param>
public sealed record DalleEncoderOutput(Tensor Logits, Tensor AfterInputConv, IReadOnlyList<Tensor> AfterGroups) : IDisposable
{
    /// <summary>Disposes every tensor.</summary>
    public void Dispose() => TensorScopes.Dispose([Logits, AfterInputConv, .. AfterGroups]);
}
