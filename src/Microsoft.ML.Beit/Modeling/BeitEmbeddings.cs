using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Patch embeddings with the CLS token in front, the mask token substituted at masked patches, and
/// optional absolute position embeddings.
/// </summary>
/// <remarks>
/// Masked patches are replaced before the position embeddings are added, as in the original unilm
/// code (current Hugging Face code adds the position embeddings first, so masked positions there carry
/// none). The two agree whenever there is no mask or no absolute position embedding, which covers
/// every published BEiT checkpoint.
/// </remarks>
public sealed class BeitEmbeddings : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The learned [1, 1, D] classification token.</summary>
    public readonly Parameter cls_token;
    /// <summary>The learned [1, 1, D] token that replaces masked patches; null without <c>use_mask_token</c>.</summary>
    public readonly Parameter? mask_token;
    /// <summary>The patch projection.</summary>
    public readonly BeitPatchEmbeddings patch_embeddings;
    /// <summary>Learned [1, 1 + N, D] absolute position embeddings; null without <c>use_absolute_position_embeddings</c>.</summary>
    public readonly Parameter? position_embeddings;
    /// <summary>Dropout on the embeddings during training.</summary>
    public readonly Dropout dropout;
#pragma warning restore IDE1006

    /// <summary>Builds the embeddings for <paramref name="config"/>.</summary>
    public BeitEmbeddings(BeitConfig config) : base(nameof(BeitEmbeddings))
    {
        cls_token = new Parameter(zeros(1, 1, config.HiddenSize));
        if (config.UseMaskToken)
            mask_token = new Parameter(zeros(1, 1, config.HiddenSize));
        patch_embeddings = new BeitPatchEmbeddings(config);
        if (config.UseAbsolutePositionEmbeddings)
            position_embeddings = new Parameter(zeros(1, config.NumPatches + 1, config.HiddenSize));
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] pixels (and an optional [B, N] boolean mask, true = masked) to [B, 1 + N, D] tokens.</summary>
    public override Tensor forward(Tensor pixelValues, Tensor? boolMaskedPos)
    {
        using var scope = NewDisposeScope();
        var embeddings = patch_embeddings.forward(pixelValues);
        long batch = embeddings.shape[0];
        if (boolMaskedPos is not null)
        {
            if (mask_token is null)
                throw new InvalidOperationException("bool_masked_pos was given but this model has no mask token (use_mask_token is false).");
            if (boolMaskedPos.dim() != 2 || boolMaskedPos.shape[0] != batch || boolMaskedPos.shape[1] != embeddings.shape[1])
                throw new ArgumentException(
                    $"bool_masked_pos must be [{batch}, {embeddings.shape[1]}]; got [{string.Join(", ", boolMaskedPos.shape)}].");
            var w = boolMaskedPos.unsqueeze(-1).to(embeddings.dtype, embeddings.device);
            // x * (1 - w) + mask * w, with w in {0, 1}: written as a difference so no temporary scalar is needed.
            embeddings = ScalarOps.Add(ScalarOps.Sub(embeddings, embeddings * w), mask_token.expand(batch, embeddings.shape[1], -1) * w);
        }
        embeddings = cat([cls_token.expand(batch, -1, -1), embeddings], dim: 1);
        if (position_embeddings is not null)
            embeddings = ScalarOps.Add(embeddings, position_embeddings);
        return dropout.forward(embeddings).MoveToOuterDisposeScope();
    }
}
