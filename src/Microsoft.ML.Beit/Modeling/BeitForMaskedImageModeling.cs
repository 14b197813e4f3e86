using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The pre-training model (Hugging Face <c>BeitForMaskedImageModeling</c>): the backbone without a
/// pooler, a final LayerNorm, and a linear head predicting a visual token for each patch.
/// </summary>
public sealed class BeitForMaskedImageModeling : nn.Module<Tensor, Tensor?, BeitMaskedImageModelingOutput>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The backbone, without a pooler.</summary>
    public readonly BeitModel beit;
    /// <summary>Final LayerNorm over all tokens (unilm <c>norm</c>).</summary>
    public readonly LayerNorm layernorm;
    /// <summary>Token features to visual-token logits.</summary>
    public readonly Linear lm_head;
#pragma warning restore IDE1006

    /// <summary>Builds the model for <paramref name="config"/> (vocabulary size <c>vocab_size</c>).</summary>
    public BeitForMaskedImageModeling(BeitConfig config) : base(nameof(BeitForMaskedImageModeling))
    {
        beit = new BeitModel(config, addPoolingLayer: false);
        layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        lm_head = nn.Linear(config.HiddenSize, config.VocabSize);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public BeitConfig Config => beit.Config;

    /// <summary>
    /// Visual-token logits for every patch, [B, N, vocab], and the final-normed sequence. With a mask,
    /// masked patches see the mask token; select their rows with <see cref="BeitMaskedImageModelingOutput.MaskedLogits"/>.
    /// </summary>
    public override BeitMaskedImageModelingOutput forward(Tensor pixelValues, Tensor? boolMaskedPos)
    {
        using var scope = NewDisposeScope();
        using var backbone = beit.forward(pixelValues, boolMaskedPos);
        var normed = layernorm.forward(backbone.LastHiddenState);
        var logits = lm_head.forward(normed.narrow(1, 1, normed.shape[1] - 1));
        return new BeitMaskedImageModelingOutput(logits.MoveToOuterDisposeScope(), normed.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Logits for the masked patches only, [M, vocab], rows ordered by sample then patch index; the head
    /// runs on those rows alone (as unilm does in pre-training).
    /// </summary>
    public Tensor ForwardMasked(Tensor pixelValues, Tensor boolMaskedPos)
    {
        using var scope = NewDisposeScope();
        using var backbone = beit.forward(pixelValues, boolMaskedPos);
        var patches = layernorm.forward(backbone.LastHiddenState).narrow(1, 1, boolMaskedPos.shape[1]);
        return lm_head.forward(patches[boolMaskedPos.to(ScalarType.Bool, patches.device)]).MoveToOuterDisposeScope();
    }
}

/// <summary>What the masked-image-modeling model returns.</summary>
/// <param name="Logits">[B, N, vocab] visual-token logits for every patch.</param>
/// <param name="FinalHiddenStates">[B, 1 + N, D] the sequence after the final LayerNorm, CLS included.</param>
public sealed record BeitMaskedImageModelingOutput(Tensor Logits, Tensor FinalHiddenStates) : IDisposable
{
    /// <summary>The rows of <see cref="Logits"/> at masked positions, [M, vocab], by sample then patch index.</summary>
    public Tensor MaskedLogits(Tensor boolMaskedPos)
    {
        using var mask = boolMaskedPos.to(ScalarType.Bool, Logits.device);
        return Logits[mask];
    }

    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Logits.Dispose();
        FinalHiddenStates.Dispose();
    }
}
