using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The BEiT backbone (Hugging Face <c>BeitModel</c>): embeddings, encoder, the final LayerNorm for CLS
/// pooling, and optionally the pooler.
/// </summary>
public sealed class BeitModel : nn.Module<Tensor, BeitModelOutput>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>Patch, CLS, mask and position embeddings.</summary>
    public readonly BeitEmbeddings embeddings;
    /// <summary>The transformer blocks.</summary>
    public readonly BeitEncoder encoder;
    /// <summary>Final LayerNorm of the sequence; null with mean pooling (it is then the pooler's job).</summary>
    public readonly LayerNorm? layernorm;
    /// <summary>The pooler; null when built without one (masked image modeling).</summary>
    public readonly BeitPooler? pooler;
#pragma warning restore IDE1006

    /// <summary>Builds the backbone for <paramref name="config"/>, with a pooler unless <paramref name="addPoolingLayer"/> is false.</summary>
    public BeitModel(BeitConfig config, bool addPoolingLayer = true) : base(nameof(BeitModel))
    {
        config.Validate();
        Config = config;
        embeddings = new BeitEmbeddings(config);
        encoder = new BeitEncoder(config);
        if (!config.UseMeanPooling)
            layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        if (addPoolingLayer)
            pooler = new BeitPooler(config);
        RegisterComponents();
    }

    /// <summary>The architecture this backbone was built from.</summary>
    public BeitConfig Config { get; }

    /// <inheritdoc/>
    public override BeitModelOutput forward(Tensor pixelValues) => forward(pixelValues, null);

    /// <summary>
    /// Runs the backbone on [B, C, H, W] pixels. <paramref name="boolMaskedPos"/> ([B, N], true = masked)
    /// substitutes the mask token. Hidden states and attention probabilities are kept on request.
    /// </summary>
    public BeitModelOutput forward(Tensor pixelValues, Tensor? boolMaskedPos, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        using var scope = NewDisposeScope();
        var encoded = encoder.forward(embeddings.forward(pixelValues, boolMaskedPos), outputHiddenStates, outputAttentions);
        var sequence = layernorm is null ? encoded.LastHiddenState : layernorm.forward(encoded.LastHiddenState);
        var pooled = pooler?.forward(sequence);
        var result = new BeitModelOutput(sequence, pooled, encoded.HiddenStates, encoded.Attentions);
        result.MoveToOuterDisposeScope();
        return result;
    }
}
