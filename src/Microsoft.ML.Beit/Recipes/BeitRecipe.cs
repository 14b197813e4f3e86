namespace Microsoft.ML.Beit;

/// <summary>
/// Which training recipe fills the options a trainer was not given (any option you set wins over the recipe). The
/// trainer prints its choice as one block at the start, and the model zip records it (<see cref="Scoring.BeitImageTransformer.TrainingRecipe"/>).
/// </summary>
public enum BeitRecipe
{
    /// <summary>
    /// Decided from the starting model: <see cref="FromScratch"/> for a preset or config, <see cref="ContinueTraining"/> for a
    /// fine-tuned model (a classifier, a segmentation model or a model zip of this library), <see cref="Pretrained"/> for
    /// any other checkpoint (a masked-image-modeling backbone). Default.
    /// </summary>
    Auto,

    /// <summary>
    /// Random initial weights: no layer decay, a full-scale head, little stochastic depth, light augmentation for small
    /// images, a short warmup and more epochs; for a preset, a patch size that suits the images' size.
    /// </summary>
    FromScratch,

    /// <summary>
    /// A self-supervised backbone (such as the pt22k checkpoints): unilm's fine-tuning recipe for the model's depth (layer
    /// decay 0.75 and drop path 0.2 for 24 blocks, 0.65 and 0.1 otherwise), its learning rate scaled to the effective batch.
    /// </summary>
    Pretrained,

    /// <summary>A model fine-tuned before: a tenth of the pretrained learning rate, no warmup, no layer decay.</summary>
    ContinueTraining,
}
