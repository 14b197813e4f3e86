using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit;

/// <summary>
/// Options of <see cref="BeitCatalog.BeitFinetune(MulticlassClassificationCatalog.MulticlassClassificationTrainers, BeitFinetuneOptions)"/>.
/// The inherited defaults are unilm's recipe for BEiT-large from the pt22k checkpoint (lr 1e-3, layer decay 0.75,
/// drop path 0.2, 5 warmup epochs, weight decay 0.05, label smoothing 0.1); for BEiT-base use LayerDecay 0.65 and
/// DropPath 0.1. unilm scales the learning rate for an effective batch of 1024; for small data and batches,
/// lower it (e.g. 1e-4 to 5e-4) or shorten the warmup.
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

    /// <summary>Label smoothing of the cross-entropy loss. Default 0.1.</summary>
    public double LabelSmoothing { get; set; } = 0.1;

    /// <summary>Scale applied to a new classifier head's initial weights (unilm <c>init_scale</c>). Default 0.001.</summary>
    public double HeadInitScale { get; set; } = 0.001;

    /// <summary>Train on random resized crops (8-100 % of the area) with horizontal flips and RandAugment; off trains on the evaluation transform. Default true.</summary>
    public bool Augment { get; set; } = true;

    /// <summary>Smallest crop area of the augmentation, as a fraction of the image. Default 0.08.</summary>
    public double MinCropScale { get; set; } = 0.08;

    /// <summary>Probability of a horizontal flip in the augmentation. Default 0.5.</summary>
    public double HorizontalFlip { get; set; } = 0.5;

    /// <summary>RandAugment operations per image when <see cref="Augment"/> is on; 0 turns RandAugment off. Default 2 (unilm: rand-m9-mstd0.5-inc1).</summary>
    public int RandAugmentLayers { get; set; } = 2;

    /// <summary>RandAugment magnitude, 0 to 10 (jittered with standard deviation 0.5). Default 9.</summary>
    public double RandAugmentMagnitude { get; set; } = 9;

    /// <summary>Probability of erasing a random box (filled with noise) of a training image when <see cref="Augment"/> is on. Default 0.25 (unilm).</summary>
    public double RandomErasing { get; set; } = 0.25;

    /// <summary>Mixup: blend whole images with weight ~ Beta(alpha, alpha); 0 turns it off. Default 0 (unilm uses 0.8).</summary>
    public double MixupAlpha { get; set; }

    /// <summary>Cutmix: paste a box of another image covering ~ Beta(alpha, alpha) of the area; 0 turns it off. Default 0 (unilm uses 1.0).</summary>
    public double CutmixAlpha { get; set; }

    /// <summary>With both on, the probability of cutmix rather than mixup for a batch. Default 0.5.</summary>
    public double MixupSwitchProbability { get; set; } = 0.5;

    /// <summary>Input image size when starting from a preset (random initialisation); null keeps the preset's. Default null.</summary>
    public int? ImageSize { get; set; }

    /// <summary>Preprocessing for evaluation and scoring; null: the checkpoint's preprocessor_config.json or the pt22k settings. Default null.</summary>
    public BeitPreprocessorConfig? Preprocessor { get; set; }

    /// <summary>What to do with unreadable images when scoring (training always stops on them, naming the row). Default Throw.</summary>
    public BeitInvalidImageHandling InvalidImage { get; set; } = BeitInvalidImageHandling.Throw;

    /// <summary>
    /// What the trained model scores with. <see cref="BeitBackend.Onnx"/> exports it after training and scores through ONNX
    /// Runtime on <see cref="BeitTrainingOptions.Device"/> (its zip then loads without LibTorch, but cannot continue training).
    /// Default <see cref="BeitBackend.TorchSharp"/>.
    /// </summary>
    public BeitBackend Backend { get; set; } = BeitBackend.TorchSharp;

    internal override void Validate()
    {
        base.Validate();
        if (!Enum.IsDefined(Backend)) throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Unknown backend.");
        if (Model is null) throw new ArgumentException("BeitFinetuneOptions.Model is required: a checkpoint or BeitModelSource.FromPreset(\"tiny\"|\"base\"|\"large\").", nameof(Model));
        if (LabelSmoothing is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, "LabelSmoothing must be in [0, 1).");
        if (HeadInitScale <= 0) throw new ArgumentOutOfRangeException(nameof(HeadInitScale), HeadInitScale, "HeadInitScale must be positive.");
        if (MinCropScale is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(MinCropScale), MinCropScale, "MinCropScale must be in (0, 1].");
        if (RandAugmentLayers < 0) throw new ArgumentOutOfRangeException(nameof(RandAugmentLayers), RandAugmentLayers, "RandAugmentLayers cannot be negative.");
        if (RandAugmentMagnitude is < 0 or > 10) throw new ArgumentOutOfRangeException(nameof(RandAugmentMagnitude), RandAugmentMagnitude, "RandAugmentMagnitude must be in [0, 10].");
        if (RandomErasing is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(RandomErasing), RandomErasing, "RandomErasing must be in [0, 1].");
        if (MixupAlpha < 0 || CutmixAlpha < 0) throw new ArgumentOutOfRangeException(nameof(MixupAlpha), "MixupAlpha and CutmixAlpha cannot be negative.");
        if (MixupSwitchProbability is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(MixupSwitchProbability), MixupSwitchProbability, "MixupSwitchProbability must be in [0, 1].");
        if (ImageSize is < 1) throw new ArgumentOutOfRangeException(nameof(ImageSize), ImageSize, "ImageSize must be positive.");
    }
}
