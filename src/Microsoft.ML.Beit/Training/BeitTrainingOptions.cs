namespace Microsoft.ML.Beit;

/// <summary>What a trainer does when a step's loss is NaN or infinite.</summary>
public enum BeitNonFiniteLossHandling
{
    /// <summary>Stop with an error naming the step (the last checkpoint stays usable). Default.</summary>
    Stop,
    /// <summary>Drop that step's gradients, warn naming the step, and go on.</summary>
    SkipStep,
}

/// <summary>
/// Options every BEiT trainer shares (fine-tuning, segmentation, pretraining): the optimizer, schedule,
/// batching, checkpoints and progress. Defaults follow unilm's fine-tuning recipe.
/// </summary>
public abstract class BeitTrainingOptions
{
    /// <summary>Passes over the training data. Default 10.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Images per micro-batch. Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Micro-batches whose gradients are summed before each optimizer step (effective batch = BatchSize x this). Default 1.</summary>
    public int AccumulationSteps { get; set; } = 1;

    /// <summary>Peak learning rate before layer decay, reached after warmup. Default 1e-3 (unilm, for an effective batch of 1024 it scales linearly; set it for your batch).</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Learning rate at the end of the cosine schedule. Default 1e-6.</summary>
    public double MinLearningRate { get; set; } = 1e-6;

    /// <summary>Epochs of linear warmup from 0 to <see cref="LearningRate"/>. Default 5 (unilm pt22k fine-tuning).</summary>
    public double WarmupEpochs { get; set; } = 5;

    /// <summary>AdamW weight decay (not applied to biases, 1-D parameters, tokens, position embeddings and relative position tables). Default 0.05.</summary>
    public double WeightDecay { get; set; } = 0.05;

    /// <summary>AdamW betas. Default (0.9, 0.999).</summary>
    public (double Beta1, double Beta2) Betas { get; set; } = (0.9, 0.999);

    /// <summary>AdamW epsilon. Default 1e-8.</summary>
    public double Epsilon { get; set; } = 1e-8;

    /// <summary>Layer-wise learning-rate decay: block i learns at LearningRate x LayerDecay^(L - i). Default 0.75 (BEiT-large; use 0.65 for base).</summary>
    public double LayerDecay { get; set; } = 0.75;

    /// <summary>Largest stochastic-depth rate (block i drops with rate i/(L-1) of this). Default 0.2 (BEiT-large; 0.1 for base).</summary>
    public double DropPath { get; set; } = 0.2;

    /// <summary>Clip the gradient norm to this; null for no clipping. Default null (unilm fine-tuning does not clip).</summary>
    public double? ClipGradient { get; set; }

    /// <summary>Device: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. Default <c>auto</c>.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Seed of shuffling, augmentation, stochastic depth and new weights; null takes the MLContext's seed. Default null.</summary>
    public int? Seed { get; set; }

    /// <summary>Data evaluated after every epoch; with it, the best epoch's weights are kept. Default none.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>Stop when the validation metric has not improved for this many epochs; null never stops early. Default null.</summary>
    public int? EarlyStoppingPatience { get; set; }

    /// <summary>Folder for training checkpoints; null writes none. Default null.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Write a checkpoint every this many optimizer steps (and at each epoch's end). Default 500.</summary>
    public int CheckpointEverySteps { get; set; } = 500;

    /// <summary>A checkpoint folder (or the <see cref="CheckpointDirectory"/> holding them) to resume an interrupted run from. Default none.</summary>
    public string? ResumeFrom { get; set; }

    /// <summary>Stops training between steps; the last checkpoint stays usable with <see cref="ResumeFrom"/>. Default none.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Receives progress after every optimizer step and validation. Default none.</summary>
    public IProgress<BeitTrainingProgress>? Progress { get; set; }

    /// <summary>What happens when a step's loss is NaN or infinite. Default <see cref="BeitNonFiniteLossHandling.Stop"/>.</summary>
    public BeitNonFiniteLossHandling NonFiniteLoss { get; set; } = BeitNonFiniteLossHandling.Stop;

    /// <summary>LibTorch intra-op threads; null leaves LibTorch's default. Default null.</summary>
    public int? Threads { get; set; }

    /// <summary>The learning rate per optimizer step: warmup then cosine (fine-tuning and pretraining); segmentation overrides it with poly.</summary>
    internal virtual Func<int, double> CreateSchedule(int totalSteps, int warmupSteps)
    {
        var cosine = new Training.CosineSchedule(LearningRate, MinLearningRate, totalSteps, warmupSteps);
        return step => cosine[step];
    }

    /// <summary>The run's seed: the option, else the interrupted run's (so a resume repeats its draws), else one from the MLContext.</summary>
    internal int ResolveSeed(Runtime.IHost host) =>
        Seed ?? (ResumeFrom is { } resume ? Training.BeitTrainingLoop.ResumedSeed(resume) : null) ?? host.Rand.Next();

    internal virtual void Validate()
    {
        void Require(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}.");
        }
        Require(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Require(AccumulationSteps >= 1, nameof(AccumulationSteps), AccumulationSteps, "must be at least 1");
        Require(LearningRate > 0, nameof(LearningRate), LearningRate, "must be positive");
        Require(MinLearningRate >= 0, nameof(MinLearningRate), MinLearningRate, "cannot be negative");
        Require(WarmupEpochs >= 0, nameof(WarmupEpochs), WarmupEpochs, "cannot be negative");
        Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "cannot be negative");
        Require(Betas.Beta1 is >= 0 and < 1 && Betas.Beta2 is >= 0 and < 1, nameof(Betas), Betas, "must both be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be positive");
        Require(LayerDecay is > 0 and <= 1, nameof(LayerDecay), LayerDecay, "must be in (0, 1]");
        Require(DropPath is >= 0 and < 1, nameof(DropPath), DropPath, "must be in [0, 1)");
        Require(ClipGradient is null or > 0, nameof(ClipGradient), ClipGradient!, "must be positive");
        Require(CheckpointEverySteps >= 1, nameof(CheckpointEverySteps), CheckpointEverySteps, "must be at least 1");
        Require(EarlyStoppingPatience is null or >= 1, nameof(EarlyStoppingPatience), EarlyStoppingPatience!, "must be at least 1");
    }
}
