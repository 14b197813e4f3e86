using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit;

/// <summary>How the segmentation loss weighs the classes.</summary>
public enum BeitClassWeighting
{
    /// <summary>Every labelled pixel counts the same.</summary>
    None,
    /// <summary>
    /// Each class weighs the inverse square root of its share of the labelled training pixels (normalised to a mean of 1),
    /// so that a dominant background cannot hide the rare classes; absent classes weigh 1.
    /// </summary>
    Balanced,
}

/// <summary>
/// Options of <see cref="SemanticSegmentationCatalog.SemanticSegmentationTrainers.Beit(BeitSegmentationOptions)"/>: UperNet
/// with an auxiliary FCN head (loss weight 0.4), AdamW, a poly schedule with linear warmup, random scale 0.5-2.0, crop and
/// flip. The options left null are filled by <see cref="BeitTrainingOptions.Recipe"/> from the starting model and the data:
/// from a pretrained backbone, BEiT's ADE20K recipe (lr 5e-5 at batch 8, layer decay 0.9, or 0.95 for 24 blocks); from
/// random weights, lr 1e-3 without layer decay, a patch grid suited to the images for a preset, and class-balanced loss
/// weights when one class covers most pixels.
/// </summary>
public sealed class BeitSegmentationOptions : BeitTrainingOptions
{
    /// <summary>Creates options with the segmentation defaults (batches of 8).</summary>
    public BeitSegmentationOptions()
    {
        BatchSize = 8;
    }

    /// <summary>
    /// The starting model: a BEiT checkpoint (any backbone, classifier or pretraining checkpoint: its backbone is used
    /// with new necks and heads; a segmentation checkpoint with the same classes continues training) or a preset or
    /// config for random initialisation. Required.
    /// </summary>
    public BeitModelSource? Model { get; set; }

    /// <summary>Class names by class id (the label maps' pixel values). Required unless the model is a segmentation checkpoint whose classes are kept.</summary>
    public IReadOnlyList<string>? ClassNames { get; set; }

    /// <summary>The image column: an image (LoadImages), encoded bytes (LoadRawImageBytes) or a file path. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>
    /// The label-map column: an image (LoadImages) or a path to a PNG whose gray values are class ids, the same size as
    /// its image. Default <c>Label</c>.
    /// </summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The predicted-mask column the model adds: one class id per input pixel, row-major. Default <c>PredictedMask</c>.</summary>
    public string PredictedMaskColumnName { get; set; } = "PredictedMask";

    /// <summary>A column for per-class probabilities at every input pixel ([classes x H x W], row-major); null adds none. Default null.</summary>
    public string? ScoreColumnName { get; set; }

    /// <summary>Label value the loss and the metrics ignore. Default 255.</summary>
    public int IgnoreIndex { get; set; } = 255;

    /// <summary>ADE20K convention: label 0 ("other") becomes <see cref="IgnoreIndex"/> and every other label drops by one. Default false.</summary>
    public bool ReduceLabels { get; set; }

    /// <summary>
    /// Training crop and inference window, in pixels; null takes the model's image size, and for a preset the recipe's,
    /// which follows the training images' size (up to 224). Default null.
    /// </summary>
    public int? CropSize { get; set; }

    /// <summary>Patch size when starting from a preset; null: the recipe's, a 16x16 patch grid for small models (14x14 for base and large). Default null.</summary>
    public int? PatchSize { get; set; }

    /// <summary>
    /// Per-class weights of the loss; null: the recipe's, <see cref="BeitClassWeighting.Balanced"/> when one class covers more
    /// than half of the labelled training pixels, else none. Default null.
    /// </summary>
    public BeitClassWeighting? ClassWeighting { get; set; }

    /// <summary>Random scaling range of training images relative to a short side of <see cref="CropSize"/>. Default (0.5, 2.0).</summary>
    public (double Min, double Max) ScaleRange { get; set; } = (0.5, 2.0);

    /// <summary>Probability of a horizontal flip of a training image and its labels. Default 0.5.</summary>
    public double HorizontalFlip { get; set; } = 0.5;

    /// <summary>Whether to augment (scale, crop, flip); off trains on the inference resize of whole images. Default true.</summary>
    public bool Augment { get; set; } = true;

    /// <summary>Label smoothing of the cross-entropy; null: the recipe's (0). Default null.</summary>
    public double? LabelSmoothing { get; set; }

    /// <summary>
    /// Which backbone layers feed the four necks (Hugging Face convention, see <see cref="Modeling.BeitConfig.OutIndices"/>);
    /// null keeps the checkpoint's, or spreads them evenly over a new model's layers. Default null.
    /// </summary>
    public IReadOnlyList<int>? OutIndices { get; set; }

    /// <summary>Whether to add the auxiliary FCN head and its loss (weight 0.4) to a new model. Default true.</summary>
    public bool AuxiliaryHead { get; set; } = true;

    /// <summary>Resize and normalisation; null takes the checkpoint's preprocessor_config.json or BEiT's (mean and std 0.5). Default null.</summary>
    public BeitPreprocessorConfig? Preprocessor { get; set; }

    /// <summary>What happens to an unreadable image at scoring time. Default <see cref="BeitInvalidImageHandling.Throw"/>.</summary>
    public BeitInvalidImageHandling InvalidImage { get; set; } = BeitInvalidImageHandling.Throw;

    /// <summary>
    /// What the trained model scores with. <see cref="BeitBackend.Onnx"/> exports it after training and scores through ONNX
    /// Runtime on <see cref="BeitTrainingOptions.Device"/> (its zip then loads without LibTorch, but cannot continue training).
    /// Default <see cref="BeitBackend.TorchSharp"/>.
    /// </summary>
    public BeitBackend Backend { get; set; } = BeitBackend.TorchSharp;

    /// <summary>
    /// With <see cref="Backend"/> = <see cref="BeitBackend.Onnx"/>: <see cref="BeitOnnxQuantization.Int8Dynamic"/> exports the linear
    /// layers with int8 weights (a smaller zip; faster on CPUs with VNNI; slightly different scores). Ignored with TorchSharp.
    /// Default <see cref="BeitOnnxQuantization.None"/>.
    /// </summary>
    public BeitOnnxQuantization OnnxQuantization { get; set; }

    internal override Func<int, double> CreateSchedule(int totalSteps, int warmupSteps)
    {
        var poly = new Training.PolySchedule(LearningRate!.Value, MinLearningRate!.Value, totalSteps, warmupSteps);
        return step => poly[step];
    }

    internal override void Validate()
    {
        base.Validate();
        if (!Enum.IsDefined(Backend)) throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Unknown backend.");
        if (!Enum.IsDefined(OnnxQuantization)) throw new ArgumentOutOfRangeException(nameof(OnnxQuantization), OnnxQuantization, "Unknown ONNX quantization.");
        if (Model is null) throw new ArgumentNullException(nameof(Model), "BeitSegmentationOptions.Model is required: a checkpoint, a preset or a config.");
        if (ClassNames is { Count: < 2 }) throw new ArgumentException($"ClassNames lists {ClassNames.Count} class(es); segmentation needs at least 2.", nameof(ClassNames));
        if (ClassNames is { Count: > 255 }) throw new ArgumentException($"ClassNames lists {ClassNames.Count} classes; 8-bit label maps hold at most 255 classes besides the ignore value.", nameof(ClassNames));
        if (BatchSize < 2)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 2: the BatchNorm layers of the necks and heads need two images to compute batch statistics.");
        if (IgnoreIndex is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(IgnoreIndex), IgnoreIndex, "IgnoreIndex must be a label-map value, 0 to 255.");
        if (CropSize is <= 0) throw new ArgumentOutOfRangeException(nameof(CropSize), CropSize, "CropSize must be positive.");
        if (PatchSize is <= 0) throw new ArgumentOutOfRangeException(nameof(PatchSize), PatchSize, "PatchSize must be positive.");
        if (ClassWeighting is { } weighting && !Enum.IsDefined(weighting)) throw new ArgumentOutOfRangeException(nameof(ClassWeighting), weighting, "Unknown class weighting.");
        if (ScaleRange.Min <= 0 || ScaleRange.Max < ScaleRange.Min)
            throw new ArgumentOutOfRangeException(nameof(ScaleRange), ScaleRange, "ScaleRange must satisfy 0 < Min <= Max.");
        if (HorizontalFlip is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(HorizontalFlip), HorizontalFlip, "HorizontalFlip must be a probability.");
        if (LabelSmoothing is not null and (< 0 or >= 1)) throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, "LabelSmoothing must be in [0, 1).");
        if (OutIndices is { Count: not 4 }) throw new ArgumentException($"OutIndices must list 4 layers, not {OutIndices.Count}.", nameof(OutIndices));
    }
}
