using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Pretraining;

namespace Microsoft.ML.Beit;

/// <summary>
/// Options of <see cref="BeitCatalog.BeitPretrain(TransformsCatalog, BeitPretrainOptions)"/>: masked image modeling as in the
/// BEiT paper. The defaults are unilm's pretraining recipe (AdamW betas 0.9/0.98, weight decay 0.05, warmup then cosine,
/// gradient clipping 3.0, layer scale 0.1, a shared relative position bias, 75 of 196 patches masked in blocks of at
/// least 16). The options left null are filled by <see cref="BeitTrainingOptions.Recipe"/>: for a new model lr 5e-4 (unilm's
/// 1.5e-3 is for a batch of 2048), a warmup of a tenth of the epochs, stochastic depth 0.1 (0 up to 6 blocks); for a
/// checkpoint that continues, lr 1.5e-4.
/// </summary>
public sealed class BeitPretrainOptions : BeitTrainingOptions
{
    /// <summary>Creates options with the pretraining defaults; the recipe fills the learning rate, schedule and stochastic depth left null.</summary>
    public BeitPretrainOptions()
    {
        Betas = (0.9, 0.98);
        ClipGradient = 3.0;
        BatchSize = 64;
    }

    /// <summary>
    /// The model to pretrain: a preset or config for a new model (its relative position bias becomes shared, a mask
    /// token is added, and its vocabulary is the tokenizer's), or a checkpoint: a masked-image-modeling model continues
    /// pretraining, any other BEiT model gives its backbone. Required.
    /// </summary>
    public BeitModelSource? Model { get; set; }

    /// <summary>The visual tokenizer giving the targets (a DALL-E encoder or a dVAE trained with <c>beit tokenizer train</c>). Required.</summary>
    public IBeitVisualTokenizer? Tokenizer { get; set; }

    /// <summary>The image column: an image (LoadImages), encoded bytes (LoadRawImageBytes) or a file path. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>The features column of the returned featurizer. Default <c>Features</c>.</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>Patches masked per image; null takes unilm's share, 75 of 196 (rounded for other grids). Default null.</summary>
    public int? MaskedPatches { get; set; }

    /// <summary>Smallest block of masked patches; null takes unilm's 16 for a 14x14 grid, scaled to the grid's area. Default null.</summary>
    public int? MinPatchesPerBlock { get; set; }

    /// <summary>Layer scale initial value of a new model (unilm: 0.1). Default 0.1.</summary>
    public double LayerScaleInitValue { get; set; } = 0.1;

    /// <summary>Smallest crop area of the random resized crop that both views share. Default 0.08 (unilm).</summary>
    public double MinCropScale { get; set; } = 0.08;

    /// <summary>Probability of a horizontal flip of both views. Default 0.5.</summary>
    public double HorizontalFlip { get; set; } = 0.5;

    /// <summary>Resize and normalisation of the patch view; null takes the checkpoint's or BEiT's (mean and std 0.5). Default null.</summary>
    public BeitPreprocessorConfig? Preprocessor { get; set; }

    /// <summary>A folder to also write the pretrained model to in the Hugging Face <c>BeitForMaskedImageModeling</c> layout. Default none.</summary>
    public string? HuggingFaceOutputDirectory { get; set; }

    /// <summary>Images per forward pass of the returned featurizer. Default 32.</summary>
    public int FeaturizerBatchSize { get; set; } = 32;

    internal override void Validate()
    {
        base.Validate();
        if (Model is null) throw new ArgumentNullException(nameof(Model), "BeitPretrainOptions.Model is required: a preset, a config or a checkpoint.");
        if (TrainTime is not null) throw new ArgumentException("TrainTime searches by a validation metric, which pretraining has not; set Epochs instead.", nameof(TrainTime));
        if (Tokenizer is null) throw new ArgumentNullException(nameof(Tokenizer), "BeitPretrainOptions.Tokenizer is required: load one with VisualTokenizers.Load.");
        if (MaskedPatches is <= 0) throw new ArgumentOutOfRangeException(nameof(MaskedPatches), MaskedPatches, "MaskedPatches must be positive.");
        if (MinPatchesPerBlock is <= 0) throw new ArgumentOutOfRangeException(nameof(MinPatchesPerBlock), MinPatchesPerBlock, "MinPatchesPerBlock must be positive.");
        if (LayerScaleInitValue < 0) throw new ArgumentOutOfRangeException(nameof(LayerScaleInitValue), LayerScaleInitValue, "LayerScaleInitValue cannot be negative (0 turns layer scale off).");
        if (MinCropScale is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(MinCropScale), MinCropScale, "MinCropScale must be in (0, 1].");
        if (HorizontalFlip is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(HorizontalFlip), HorizontalFlip, "HorizontalFlip must be a probability.");
        if (FeaturizerBatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(FeaturizerBatchSize), FeaturizerBatchSize, "FeaturizerBatchSize must be positive.");
    }
}
