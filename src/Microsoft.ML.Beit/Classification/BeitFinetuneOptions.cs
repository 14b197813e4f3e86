using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit;

/// <summary>
/// Options of <see cref="BeitCatalog.BeitFinetune(MulticlassClassificationCatalog.MulticlassClassificationTrainers, BeitFinetuneOptions)"/>.
/// The recipe options are null by default: <see cref="BeitTrainingOptions.Recipe"/> fills them when training starts, from
/// the starting model (random weights, a pretrained backbone or a fine-tuned model) and the data (image size, number of
/// images). Set any of them to override the recipe.
/// </summary>
public sealed class BeitFinetuneOptions : BeitTrainingOptions
{
    /// <summary>
    /// The starting model: a checkpoint (pt22k backbone, ImageNet fine-tuned model, a backbone pretrained by this
    /// library, a classifier trained before) or a preset (<see cref="BeitModelSource.FromPreset"/>) for random
    /// initialisation. Required.
    /// </summary>
    public BeitModelSource? Model { get; set; }

    /// <summary>The label column: a key (use <c>MapValueToKey</c>). Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The image column: an image (LoadImages), encoded bytes (LoadRawImageBytes) or a file path. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>The probabilities column the model adds. Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>The predicted-label column the model adds. Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>Label smoothing of the cross-entropy loss; null: the recipe's (0.1). Default null.</summary>
    public double? LabelSmoothing { get; set; }

    /// <summary>Scale applied to a new classifier head's initial weights (unilm <c>init_scale</c>); null: the recipe's (1 from scratch, 0.001 from a backbone). Default null.</summary>
    public double? HeadInitScale { get; set; }

    /// <summary>Train on random resized crops with horizontal flips (and RandAugment, random erasing); false trains on the evaluation transform; null: the recipe's (on). Default null.</summary>
    public bool? Augment { get; set; }

    /// <summary>Smallest crop area of the augmentation, as a fraction of the image; null: the recipe's (0.8 for images under 96 pixels, 0.08 otherwise, as unilm). Default null.</summary>
    public double? MinCropScale { get; set; }

    /// <summary>Probability of a horizontal flip in the augmentation; null: the recipe's (0.5). Default null.</summary>
    public double? HorizontalFlip { get; set; }

    /// <summary>RandAugment operations per image when augmenting; 0 turns RandAugment off; null: the recipe's (off for images under 96 pixels, else 2 as unilm's rand-m9-mstd0.5-inc1). Default null.</summary>
    public int? RandAugmentLayers { get; set; }

    /// <summary>RandAugment magnitude, 0 to 10 (jittered with standard deviation 0.5); null: the recipe's (9). Default null.</summary>
    public double? RandAugmentMagnitude { get; set; }

    /// <summary>Probability of erasing a random box (filled with noise) of a training image when augmenting; null: the recipe's (0 for images under 96 pixels, else 0.25 as unilm). Default null.</summary>
    public double? RandomErasing { get; set; }

    /// <summary>Mixup: blend whole images with weight ~ Beta(alpha, alpha); 0 turns it off. Default 0 (unilm uses 0.8).</summary>
    public double MixupAlpha { get; set; }

    /// <summary>Cutmix: paste a box of another image covering ~ Beta(alpha, alpha) of the area; 0 turns it off. Default 0 (unilm uses 1.0).</summary>
    public double CutmixAlpha { get; set; }

    /// <summary>With both on, the probability of cutmix rather than mixup for a batch. Default 0.5.</summary>
    public double MixupSwitchProbability { get; set; } = 0.5;

    /// <summary>
    /// Input image size when starting from a preset or config (random initialisation); null: the recipe's, which for a
    /// preset follows the training images' size (their median side, up to 224). Default null.
    /// </summary>
    public int? ImageSize { get; set; }

    /// <summary>
    /// Patch size when starting from a preset; null: the recipe's, which gives a preset an 8x8 patch grid for small models
    /// (14x14 for base and large) over <see cref="ImageSize"/>. Default null.
    /// </summary>
    public int? PatchSize { get; set; }

    /// <summary>Preprocessing for evaluation and scoring; null: the checkpoint's preprocessor_config.json or the pt22k settings. Default null.</summary>
    public BeitPreprocessorConfig? Preprocessor { get; set; }

    /// <summary>What to do with unreadable images when scoring (training always stops on them, naming the row). Default Throw.</summary>
    public BeitInvalidImageHandling InvalidImage { get; set; } = BeitInvalidImageHandling.Throw;

    /// <summary>
    /// Train the classifier head only, on features the backbone computes once per image (the bottleneck approach of ML.NET's
    /// Model Builder): many times faster per epoch and a good choice from a pretrained backbone on small data or a small
    /// machine; from random weights it learns little, so fine-tune the whole model there. The result is the same kind of
    /// model. Augmentation and stochastic depth do not apply. Default false.
    /// </summary>
    public bool FreezeBackbone { get; set; }

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

    internal override void Validate()
    {
        base.Validate();
        if (!Enum.IsDefined(Backend)) throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Unknown backend.");
        if (!Enum.IsDefined(OnnxQuantization)) throw new ArgumentOutOfRangeException(nameof(OnnxQuantization), OnnxQuantization, "Unknown ONNX quantization.");
        if (Model is null) throw new ArgumentException("BeitFinetuneOptions.Model is required: a checkpoint or BeitModelSource.FromPreset(\"tiny\"|\"base\"|\"large\").", nameof(Model));
        if (LabelSmoothing is not null and (< 0 or >= 1)) throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, "LabelSmoothing must be in [0, 1).");
        if (HeadInitScale is <= 0) throw new ArgumentOutOfRangeException(nameof(HeadInitScale), HeadInitScale, "HeadInitScale must be positive.");
        if (MinCropScale is not null and (<= 0 or > 1)) throw new ArgumentOutOfRangeException(nameof(MinCropScale), MinCropScale, "MinCropScale must be in (0, 1].");
        if (RandAugmentLayers is < 0) throw new ArgumentOutOfRangeException(nameof(RandAugmentLayers), RandAugmentLayers, "RandAugmentLayers cannot be negative.");
        if (RandAugmentMagnitude is not null and (< 0 or > 10)) throw new ArgumentOutOfRangeException(nameof(RandAugmentMagnitude), RandAugmentMagnitude, "RandAugmentMagnitude must be in [0, 10].");
        if (RandomErasing is not null and (< 0 or > 1)) throw new ArgumentOutOfRangeException(nameof(RandomErasing), RandomErasing, "RandomErasing must be in [0, 1].");
        if (MixupAlpha < 0 || CutmixAlpha < 0) throw new ArgumentOutOfRangeException(nameof(MixupAlpha), "MixupAlpha and CutmixAlpha cannot be negative.");
        if (MixupSwitchProbability is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(MixupSwitchProbability), MixupSwitchProbability, "MixupSwitchProbability must be in [0, 1].");
        if (ImageSize is < 1) throw new ArgumentOutOfRangeException(nameof(ImageSize), ImageSize, "ImageSize must be positive.");
        if (PatchSize is < 1) throw new ArgumentOutOfRangeException(nameof(PatchSize), PatchSize, "PatchSize must be positive.");
        if (HorizontalFlip is not null and (< 0 or > 1)) throw new ArgumentOutOfRangeException(nameof(HorizontalFlip), HorizontalFlip, "HorizontalFlip must be a probability.");
    }
}
