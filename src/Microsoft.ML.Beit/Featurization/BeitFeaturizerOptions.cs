using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit;

/// <summary>How a layer's tokens become one feature vector per image.</summary>
public enum BeitPooling
{
    /// <summary>
    /// Mean of the patch tokens, then the model's trained LayerNorm: the pooler's for mean-pooling models,
    /// the final LayerNorm for masked-image-modeling (pt22k) checkpoints, which have no trained pooler.
    /// For intermediate layers, the plain mean. Size: hidden size.
    /// </summary>
    Mean,
    /// <summary>The CLS token (final-normed at the last layer when the model has a final LayerNorm). Size: hidden size.</summary>
    Cls,
    /// <summary>All patch tokens, row-major patches then channels (final-normed as for <see cref="Cls"/>). Size: patches x hidden size.</summary>
    Tokens,
    /// <summary>
    /// Not pooled features but the self-attention map of the paper's figure: block <c>Layer</c>'s attention from the CLS token to
    /// every patch, per head (heads, then row-major patches; layer k is block k, -1 the last; 0 is invalid). Each head's
    /// values sum to one with the CLS token's attention to itself. Render one with <see cref="BeitAttentionMaps"/>.
    /// Size: heads x patches.
    /// </summary>
    ClsAttention,
}

/// <summary>What to do with an image that cannot be read (missing, empty, corrupt).</summary>
public enum BeitInvalidImageHandling
{
    /// <summary>Stop with an exception that names the row and the cause (default).</summary>
    Throw,
    /// <summary>Give the row a vector of NaN and count it; the count is reported as a warning.</summary>
    Skip,
}

/// <summary>Options of <see cref="BeitCatalog.BeitFeaturize(TransformsCatalog, string, string, BeitFeaturizerOptions)"/>.</summary>
public sealed class BeitFeaturizerOptions
{
    /// <summary>The model: a Hugging Face directory, a .safetensors/.pth file (with a config when it carries none). Required.</summary>
    public BeitModelSource? Model { get; set; }

    /// <summary>How tokens become a vector. Default <see cref="BeitPooling.Mean"/>.</summary>
    public BeitPooling Pooling { get; set; } = BeitPooling.Mean;

    /// <summary>
    /// Which hidden state to pool: 0 is the embeddings, k the output of block k, negative values count from
    /// the end (-1 = the last block). Default -1.
    /// </summary>
    public int Layer { get; set; } = -1;

    /// <summary>Whether to scale every vector to unit L2 norm (for cosine search). Default false.</summary>
    public bool NormalizeL2 { get; set; }

    /// <summary>Images per forward pass; about 8 is fastest per image on a CPU. Default 8.</summary>
    public int BatchSize { get; set; } = 8;

    /// <summary>
    /// Device: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. With <c>auto</c>, <see cref="MLContext.GpuDeviceId"/> and
    /// <see cref="MLContext.FallbackToCpu"/> decide when the GPU id is set (<c>cuda:N</c>, or an error when that device is not
    /// there unless falling back to the CPU is allowed); otherwise CUDA when available, else the CPU. Default <c>auto</c>.
    /// </summary>
    public string Device { get; set; } = "auto";

    /// <summary>LibTorch intra-op threads; null leaves LibTorch's default (all cores). Default null.</summary>
    public int? Threads { get; set; }

    /// <summary>What to do with unreadable images. Default <see cref="BeitInvalidImageHandling.Throw"/>.</summary>
    public BeitInvalidImageHandling InvalidImage { get; set; } = BeitInvalidImageHandling.Throw;

    /// <summary>
    /// What runs the network. <see cref="BeitBackend.Onnx"/> exports the model when the estimator is fitted and scores through
    /// ONNX Runtime on <see cref="Device"/> with <see cref="Threads"/> intra-op threads; its zip loads without LibTorch. Every
    /// <see cref="Layer"/> and <see cref="Pooling"/> is supported. Default <see cref="BeitBackend.TorchSharp"/>.
    /// </summary>
    public BeitBackend Backend { get; set; } = BeitBackend.TorchSharp;

    /// <summary>
    /// With <see cref="Backend"/> = <see cref="BeitBackend.Onnx"/>: <see cref="BeitOnnxQuantization.Int8Dynamic"/> exports the linear
    /// layers with int8 weights (a smaller zip; faster on CPUs with VNNI; slightly different scores). Ignored with TorchSharp.
    /// Default <see cref="BeitOnnxQuantization.None"/>.
    /// </summary>
    public BeitOnnxQuantization OnnxQuantization { get; set; }

    /// <summary>
    /// Preprocessing; null means the model directory's preprocessor_config.json, or else the pt22k settings
    /// (squash-resize to the model's image size, bilinear, /255, mean 0.5, std 0.5). Default null.
    /// </summary>
    public BeitPreprocessorConfig? Preprocessor { get; set; }

    internal void Validate()
    {
        if (Model is null) throw new ArgumentException("BeitFeaturizerOptions.Model is required: say which BEiT checkpoint to use.", nameof(Model));
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (Threads is < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be at least 1.");
        if (!Enum.IsDefined(Pooling)) throw new ArgumentOutOfRangeException(nameof(Pooling), Pooling, "Unknown pooling.");
        if (!Enum.IsDefined(InvalidImage)) throw new ArgumentOutOfRangeException(nameof(InvalidImage), InvalidImage, "Unknown invalid-image handling.");
        if (!Enum.IsDefined(Backend)) throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Unknown backend.");
        if (!Enum.IsDefined(OnnxQuantization)) throw new ArgumentOutOfRangeException(nameof(OnnxQuantization), OnnxQuantization, "Unknown ONNX quantization.");
    }
}
