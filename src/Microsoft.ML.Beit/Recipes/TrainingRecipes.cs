using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;

namespace Microsoft.ML.Beit.Recipes;

/// <summary>What the recipe knows of the training data before training starts.</summary>
/// <param name="Images">Training images.</param>
/// <param name="Classes">Classes of the labels.</param>
/// <param name="TypicalSide">The median side (square root of the area) of a sample of the images, in pixels.</param>
internal sealed record TrainingData(int Images, int Classes, int TypicalSide);

/// <summary>
/// The training recipes (see <see cref="BeitRecipe"/>): which one a starting model calls for, and the values each gives
/// the options a caller left null. One place for every default a trainer trains with, so that what is printed, recorded
/// and documented is what runs.
/// </summary>
internal static class TrainingRecipes
{
    /// <summary>Images below this side get light augmentation: RandAugment and random erasing wipe out too much of them.</summary>
    public const int SmallImageSide = 96;

    /// <summary>The recipe a starting model calls for, and why, unless the caller chose one.</summary>
    public static (BeitRecipe Recipe, string Because) Choose(BeitRecipe requested, BeitModelSource source, BeitCheckpoint? checkpoint)
    {
        if (requested != BeitRecipe.Auto) return (requested, "it was chosen in the options");
        if (checkpoint is null) return (BeitRecipe.FromScratch, $"the model starts from random weights ({source})");
        return checkpoint.Architecture is BeitArchitecture.ImageClassification or BeitArchitecture.SemanticSegmentation
            ? (BeitRecipe.ContinueTraining, $"{checkpoint.Source} is a fine-tuned {checkpoint.Architecture} model")
            : (BeitRecipe.Pretrained, $"{checkpoint.Source} is a pretrained {checkpoint.Architecture} model");
    }

    /// <summary>
    /// The architecture a random model trains with: a preset gets an image size that follows the data (up to 224) and a
    /// patch size that gives it <paramref name="grid"/> patches a side; a config keeps its patches. Explicit sizes win.
    /// </summary>
    public static BeitConfig RandomArchitecture(BeitModelSource source, int? imageSize, int? patchSize, int typicalSide, int grid, RecipeReport report)
    {
        var config = source.RandomArchitecture();
        report.Line("model");
        if (source.Preset is null)
        {
            config.ImageSize = report.Choose("image size", imageSize, config.ImageSize);
            config.PatchSize = report.Choose("patch", patchSize, config.PatchSize);
        }
        else
        {
            // Without an explicit size the image is patch x grid pixels a side, nearest to the data's, at most 224.
            int patch = patchSize ?? (imageSize is int given ? DividingPatch(given, grid)
                : Math.Max(2, (int)Math.Round(Math.Min(typicalSide, 224) / (double)grid)));
            int side = imageSize ?? patch * Math.Max(1, (int)Math.Round(Math.Min(typicalSide, 224) / (double)patch));
            config.ImageSize = report.Choose("image size", imageSize, side);
            config.PatchSize = report.Choose("patch", patchSize, patch);
        }
        if (config.ImageSize % config.PatchSize != 0)
            throw new ArgumentException($"Image size {config.ImageSize} is not a multiple of patch size {config.PatchSize}; set ImageSize and PatchSize so that it is.");
        report.Note("grid", $"{config.PatchGridSize}x{config.PatchGridSize}");
        report.Note("blocks", config.NumHiddenLayers);
        report.Note("width", config.HiddenSize);
        return config;
    }

    /// <summary>The patch grid a new classifier gets: 8x8 for small models, the 14x14 of BEiT-base and -large otherwise.</summary>
    public static int ClassifierGrid(BeitModelSource source) => source.RandomArchitecture().HiddenSize < 256 ? 8 : 14;

    /// <summary>The patch grid a new segmentation model gets: finer than a classifier's, since every pixel is predicted.</summary>
    public static int SegmentationGrid(BeitModelSource source) => source.RandomArchitecture().HiddenSize < 256 ? 16 : 14;

    /// <summary>Fills the fine-tuning options a caller left null; <paramref name="o"/> is the trainer's own copy.</summary>
    public static void Classifier(BeitFinetuneOptions o, RecipeReport report, BeitConfig architecture, TrainingData data)
    {
        var recipe = report.Recipe;
        int layers = architecture.NumHiddenLayers, effectiveBatch = o.BatchSize * o.AccumulationSteps;
        int stepsPerEpoch = Math.Max(1, (data.Images + effectiveBatch - 1) / effectiveBatch);
        bool small = architecture.ImageSize < SmallImageSide;
        Describe(report, data);

        if (o.FreezeBackbone)
        {
            FrozenBackbone(o, report, effectiveBatch, stepsPerEpoch);
            return;
        }
        report.Line("schedule");
        o.Epochs = report.Choose("epochs", o.Epochs, Epochs(recipe, stepsPerEpoch, fromScratchSteps: 4000));
        report.Note("batch", effectiveBatch);
        o.LearningRate = report.Choose("lr", o.LearningRate, o.SearchLearningRateScale * recipe switch
        {
            BeitRecipe.FromScratch => 1e-3 * Math.Clamp(effectiveBatch / 32.0, 0.25, 2),
            BeitRecipe.Pretrained => PretrainedLearningRate(layers, effectiveBatch),
            _ => PretrainedLearningRate(layers, effectiveBatch) / 10,
        });
        o.MinLearningRate = report.Choose("min lr", o.MinLearningRate, 1e-6);
        o.WarmupEpochs = report.Choose("warmup epochs", o.WarmupEpochs, Warmup(recipe, o.Epochs.Value));
        o.WeightDecay = report.Choose("weight decay", o.WeightDecay, 0.05);
        o.LayerDecay = report.Choose("layer decay", o.LayerDecay, recipe == BeitRecipe.Pretrained ? (layers >= 24 ? 0.75 : 0.65) : 1.0);
        o.DropPath = report.Choose("drop path", o.DropPath, DropPath(recipe, layers));

        report.Line("head");
        o.HeadInitScale = report.Choose("init scale", o.HeadInitScale, recipe == BeitRecipe.FromScratch ? 1.0 : 0.001);
        o.LabelSmoothing = report.Choose("label smoothing", o.LabelSmoothing, 0.1);

        report.Line("augmentation");
        o.Augment = report.Choose("augment", o.Augment, true);
        o.MinCropScale = report.Choose("min crop", o.MinCropScale, small ? 0.8 : recipe == BeitRecipe.FromScratch ? 0.35 : 0.08);
        o.HorizontalFlip = report.Choose("flip", o.HorizontalFlip, 0.5);
        o.RandAugmentLayers = report.Choose("RandAugment layers", o.RandAugmentLayers, small ? 0 : recipe == BeitRecipe.FromScratch ? 1 : 2);
        o.RandAugmentMagnitude = report.Choose("magnitude", o.RandAugmentMagnitude, recipe == BeitRecipe.FromScratch ? 5.0 : 9.0);
        o.RandomErasing = report.Choose("random erasing", o.RandomErasing, small || recipe == BeitRecipe.FromScratch ? 0 : 0.25);
    }

    // Only the head trains, on cached features: epochs are cheap, and nothing augments or drops.
    static void FrozenBackbone(BeitFinetuneOptions o, RecipeReport report, int effectiveBatch, int stepsPerEpoch)
    {
        report.Line("frozen backbone, head only");
        o.Epochs = report.Choose("epochs", o.Epochs, Math.Clamp(Ceiling(3000, stepsPerEpoch), 20, 200));
        report.Note("batch", effectiveBatch);
        o.LearningRate = report.Choose("lr", o.LearningRate, o.SearchLearningRateScale * 1e-3 * Math.Clamp(effectiveBatch / 32.0, 0.25, 2));
        o.MinLearningRate = report.Choose("min lr", o.MinLearningRate, 1e-6);
        o.WarmupEpochs = report.Choose("warmup epochs", o.WarmupEpochs, 1.0);
        o.WeightDecay = report.Choose("weight decay", o.WeightDecay, 1e-4);
        o.LayerDecay = report.Choose("layer decay", o.LayerDecay, 1.0);
        o.DropPath = report.Choose("drop path", o.DropPath, 0.0);
        o.HeadInitScale = report.Choose("head init scale", o.HeadInitScale, 1.0);
        o.LabelSmoothing = report.Choose("label smoothing", o.LabelSmoothing, 0.1);
        // The features are computed once, at the evaluation transform.
        o.Augment = false;
        o.MinCropScale ??= 1;
        o.HorizontalFlip ??= 0;
        o.RandAugmentLayers ??= 0;
        o.RandAugmentMagnitude ??= 0;
        o.RandomErasing ??= 0;
    }

    /// <summary>Fills the segmentation options a caller left null; <paramref name="o"/> is the trainer's own copy.</summary>
    public static void Segmenter(BeitSegmentationOptions o, RecipeReport report, BeitConfig architecture, TrainingData data, double largestClassShare)
    {
        var recipe = report.Recipe;
        int layers = architecture.NumHiddenLayers, effectiveBatch = o.BatchSize * o.AccumulationSteps;
        int stepsPerEpoch = Math.Max(1, data.Images / effectiveBatch);
        Describe(report, data);
        report.Note("largest class", $"{largestClassShare:P0} of the labelled pixels");

        report.Line("schedule");
        o.Epochs = report.Choose("epochs", o.Epochs, Epochs(recipe, stepsPerEpoch, fromScratchSteps: 3000));
        report.Note("batch", effectiveBatch);
        // unilm's ADE20K runs use about 5e-5 at a batch of 16 for a pretrained backbone; from scratch wants far more.
        double pretrained = 5e-5 * Math.Clamp(effectiveBatch / 8.0, 0.25, 4);
        o.LearningRate = report.Choose("lr", o.LearningRate, o.SearchLearningRateScale * recipe switch
        {
            BeitRecipe.FromScratch => 1e-3 * Math.Clamp(effectiveBatch / 8.0, 0.25, 2),
            BeitRecipe.Pretrained => pretrained,
            _ => pretrained / 10,
        });
        o.MinLearningRate = report.Choose("min lr", o.MinLearningRate, 0.0);
        o.WarmupEpochs = report.Choose("warmup epochs", o.WarmupEpochs, Warmup(recipe, o.Epochs.Value));
        o.WeightDecay = report.Choose("weight decay", o.WeightDecay, 0.05);
        o.LayerDecay = report.Choose("layer decay", o.LayerDecay, recipe == BeitRecipe.Pretrained ? (layers >= 24 ? 0.95 : 0.9) : 1.0);
        o.DropPath = report.Choose("drop path", o.DropPath, DropPath(recipe, layers));

        report.Line("loss");
        // A class that covers most pixels lets a model that predicts it everywhere sit at a low loss: weigh the rarer up.
        o.ClassWeighting = report.Choose("class weighting", o.ClassWeighting,
            largestClassShare > 0.5 ? BeitClassWeighting.Balanced : BeitClassWeighting.None);
        o.LabelSmoothing = report.Choose("label smoothing", o.LabelSmoothing, 0.0);
    }

    /// <summary>The recipe pretraining calls for: a new model from a preset or config, or a checkpoint to pretrain further.</summary>
    public static (BeitRecipe Recipe, string Because) ChoosePretraining(BeitRecipe requested, BeitModelSource source) =>
        requested != BeitRecipe.Auto ? (requested, "it was chosen in the options")
        : source.Path is null ? (BeitRecipe.FromScratch, $"the model starts from random weights ({source})")
        : (BeitRecipe.Pretrained, $"pretraining continues from {source}");

    /// <summary>Fills the pretraining options a caller left null; <paramref name="o"/> is the trainer's own copy.</summary>
    public static void Pretrainer(BeitPretrainOptions o, RecipeReport report, int? layers, int images)
    {
        var recipe = report.Recipe;
        int effectiveBatch = o.BatchSize * o.AccumulationSteps;
        int stepsPerEpoch = Math.Max(1, (images + effectiveBatch - 1) / effectiveBatch);
        report.Line("data");
        report.Note("images", images);
        report.Line("schedule");
        o.Epochs = report.Choose("epochs", o.Epochs, Math.Clamp(Ceiling(3000, stepsPerEpoch), 10, 100));
        report.Note("batch", effectiveBatch);
        // unilm pretrains at 1.5e-3 for a batch of 2048, far too low for the small batches here: 5e-4 is the default from scratch.
        o.LearningRate = report.Choose("lr", o.LearningRate, recipe == BeitRecipe.FromScratch ? 5e-4 : 1.5e-4);
        o.MinLearningRate = report.Choose("min lr", o.MinLearningRate, 1e-5);
        o.WarmupEpochs = report.Choose("warmup epochs", o.WarmupEpochs, recipe == BeitRecipe.FromScratch
            ? Math.Max(1, Math.Round(0.1 * o.Epochs.Value)) : Math.Max(1, Math.Round(0.05 * o.Epochs.Value)));
        o.WeightDecay = report.Choose("weight decay", o.WeightDecay, 0.05);
        o.LayerDecay = report.Choose("layer decay", o.LayerDecay, 1.0);
        o.DropPath = report.Choose("drop path", o.DropPath, layers is <= 6 ? 0 : 0.1);
    }

    static void Describe(RecipeReport report, TrainingData data)
    {
        report.Line("data");
        report.Note("images", data.Images);
        report.Note("classes", data.Classes);
        report.Note("typical size", $"{data.TypicalSide}px");
    }

    // Epochs for a number of optimizer steps: from scratch needs many (10 to 100 epochs), a pretrained backbone fewer
    // (10 to 50), continued training fewest (5 to 20, about 1,000 steps).
    static int Epochs(BeitRecipe recipe, int stepsPerEpoch, int fromScratchSteps) => recipe switch
    {
        BeitRecipe.FromScratch => Math.Clamp(Ceiling(fromScratchSteps, stepsPerEpoch), 10, 100),
        BeitRecipe.Pretrained => Math.Clamp(Ceiling(2000, stepsPerEpoch), 10, 50),
        _ => Math.Clamp(Ceiling(1000, stepsPerEpoch), 5, 20),
    };

    // unilm fine-tunes BEiT-large at 2e-3 and BEiT-base at 4e-3 for an effective batch of 1024, and the rate follows the batch.
    static double PretrainedLearningRate(int layers, int effectiveBatch) => (layers >= 24 ? 2e-3 : 4e-3) * effectiveBatch / 1024.0;

    static double Warmup(BeitRecipe recipe, int epochs) => recipe switch
    {
        BeitRecipe.FromScratch => Math.Max(1, Math.Round(0.03 * epochs)),
        BeitRecipe.Pretrained => Math.Max(1, Math.Round(0.1 * epochs)),
        _ => 0,
    };

    static double DropPath(BeitRecipe recipe, int layers) => recipe switch
    {
        BeitRecipe.Pretrained => layers >= 24 ? 0.2 : 0.1,
        _ => layers <= 6 ? 0 : 0.1,
    };

    static int Ceiling(int total, int per) => (total + per - 1) / per;

    // The divisor of side nearest to side / grid, so that the image splits into whole patches.
    static int DividingPatch(int side, int grid)
    {
        double target = Math.Max(2, (double)side / grid);
        return Enumerable.Range(1, side).Where(p => side % p == 0).MinBy(p => Math.Abs(p - target));
    }
}
