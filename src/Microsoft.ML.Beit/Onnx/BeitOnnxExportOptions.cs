using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>Options of <see cref="BeitOnnxExporter"/>.</summary>
public sealed class BeitOnnxExportOptions
{
    /// <summary>
    /// How the <c>features</c> output pools the tokens, with the featurizer's meaning (<see cref="BeitPooling"/>).
    /// Null gives the model's own pooled output: mean of the patch tokens then the pooler's LayerNorm when
    /// <c>use_mean_pooling</c> is set (for a backbone without a trained pooler, the plain mean), otherwise the
    /// final-normed CLS token. For masked-image-modeling checkpoints (with <see cref="FeaturesOnly"/>) and intermediate
    /// <see cref="Layer"/>s null means <see cref="BeitPooling.Mean"/>. <see cref="BeitPooling.ClsAttention"/> outputs block
    /// <see cref="Layer"/>'s attention from the CLS token to every patch, [batch, heads * patches]. Default null.
    /// </summary>
    public BeitPooling? Pooling { get; set; }

    /// <summary>
    /// Which hidden state <c>features</c> pools, as the featurizer's <c>Layer</c>: 0 is the embeddings, k the output of block k,
    /// negative values count from the end (-1 = the last block, with the model's final LayerNorm; earlier layers are raw).
    /// For <see cref="BeitPooling.ClsAttention"/>, block k's attention (0 is invalid). When only <c>features</c> is asked for,
    /// the graph stops at that block. Default -1.
    /// </summary>
    public int Layer { get; set; } = -1;

    /// <summary>Whether the <c>features</c> output is scaled to unit L2 norm (for cosine search). Default false.</summary>
    public bool NormalizeL2 { get; set; }

    /// <summary>
    /// Export only the backbone's <c>features</c>, dropping any head: a classifier then has no <c>logits</c>,
    /// and a masked-image-modeling checkpoint (pt22k) exports as a featurizer (its final LayerNorm applied as
    /// the featurizer applies it). Default false.
    /// </summary>
    public bool FeaturesOnly { get; set; }

    /// <summary>Whether the graph also outputs <c>last_hidden_state</c> [batch, 1 + patches, hidden]. Default false.</summary>
    public bool IncludeLastHiddenState { get; set; }

    /// <summary>
    /// For <see cref="Modeling.BeitForMaskedImageModeling"/>: whether the graph takes a second input,
    /// <c>bool_masked_pos</c> float32 [batch, patches] (1 = masked), whose patches see the mask token, as the model's
    /// <c>boolMaskedPos</c>. Without it every patch is visible. Default false.
    /// </summary>
    public bool IncludeMaskInput { get; set; }

    /// <summary>
    /// For <see cref="Modeling.BeitForSemanticSegmentation"/>: whether the graph also outputs <c>upsampled_logits</c>
    /// [batch, classes, image_size, image_size], the logits bilinearly resized to the input (align_corners false, as
    /// the loss and Hugging Face's post-processing resize them). Default false.
    /// </summary>
    public bool IncludeUpsampledLogits { get; set; }

    /// <summary>
    /// The preprocessing the model expects, written into the file's metadata (<c>beit.preprocessor</c>) so a host
    /// can prepare pixels the same way; not part of the graph. Default null (no metadata).
    /// </summary>
    public BeitPreprocessorConfig? Preprocessor { get; set; }

    /// <summary>
    /// How the linear layers' weights are stored: float32 (<see cref="BeitOnnxQuantization.None"/>) or int8 with dynamic
    /// quantization of their inputs (<see cref="BeitOnnxQuantization.Int8Dynamic"/>, about a quarter of the size, slightly
    /// different outputs). Default <see cref="BeitOnnxQuantization.None"/>.
    /// </summary>
    public BeitOnnxQuantization Quantization { get; set; }

    internal BeitOnnxExportOptions Clone() => (BeitOnnxExportOptions)MemberwiseClone();

    internal void Validate()
    {
        if (Pooling is { } pooling && !Enum.IsDefined(pooling))
            throw new ArgumentOutOfRangeException(nameof(Pooling), pooling, "Unknown pooling.");
        if (!Enum.IsDefined(Quantization))
            throw new ArgumentOutOfRangeException(nameof(Quantization), Quantization, "Unknown quantization: use None or Int8Dynamic.");
    }
}
