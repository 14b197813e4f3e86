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
/// batching, checkpoints and progress. The options left null are chosen by <see cref="Recipe"/> from the starting
/// model and the data when training starts; every option you set wins over it.
/// </summary>
public abstract class BeitTrainingOptions
{
    /// <summary>
    /// The recipe that fills the options left null (learning rate, schedule, layer decay, stochastic depth, augmentation,
    /// epochs, and for a preset the image and patch size). Default <see cref="BeitRecipe.Auto"/>: chosen from the starting model.
    /// </summary>
    public BeitRecipe Recipe { get; set; } = BeitRecipe.Auto;

    /// <summary>Passes over the training data; null: the recipe's, sized to the data (from scratch 10 to 100, fine-tuning 10 to 50). Default null.</summary>
    public int? Epochs { get; set; }

    /// <summary>Images per micro-batch. Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Micro-batches whose gradients are summed before each optimizer step (effective batch = BatchSize x this). Default 1.</summary>
    public int AccumulationSteps { get; set; } = 1;

    /// <summary>Peak learning rate before layer decay, reached after warmup; null: the recipe's (from scratch 1e-3 at an effective batch of 32, scaled linearly). Default null.</summary>
    public double? LearningRate { get; set; }

    /// <summary>Learning rate at the end of the schedule; null: the recipe's (1e-6 for classification). Default null.</summary>
    public double? MinLearningRate { get; set; }

    /// <summary>Epochs of linear warmup from 0 to <see cref="LearningRate"/>; null: the recipe's (a tenth of the epochs for a pretrained backbone, fewer from scratch). Default null.</summary>
    public double? WarmupEpochs { get; set; }

    /// <summary>AdamW weight decay (not applied to biases, 1-D parameters, tokens, position embeddings and relative position tables); null: the recipe's (0.05). Default null.</summary>
    public double? WeightDecay { get; set; }

    /// <summary>AdamW betas. Default (0.9, 0.999).</summary>
    public (double Beta1, double Beta2) Betas { get; set; } = (0.9, 0.999);

    /// <summary>AdamW epsilon. Default 1e-8.</summary>
    public double Epsilon { get; set; } = 1e-8;

    /// <summary>Layer-wise learning-rate decay: block i learns at LearningRate x LayerDecay^(L - i); null: the recipe's (1 from scratch, 0.75 for a pretrained 24-block backbone, 0.65 for others). Default null.</summary>
    public double? LayerDecay { get; set; }

    /// <summary>Largest stochastic-depth rate (block i drops with rate i/(L-1) of this); null: the recipe's (0.2 for a pretrained 24-block backbone, 0.1 for others, 0 for small models from scratch). Default null.</summary>
    public double? DropPath { get; set; }

    /// <summary>Clip the gradient norm to this; null for no clipping. Default null (unilm fine-tuning does not clip).</summary>
    public double? ClipGradient { get; set; }

    /// <summary>
    /// Device: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. With <c>auto</c>, <see cref="MLContext.GpuDeviceId"/> and
    /// <see cref="MLContext.FallbackToCpu"/> decide when the GPU id is set (<c>cuda:N</c>, or an error when that device is not
    /// there unless falling back to the CPU is allowed); otherwise CUDA when available, else the CPU. Default <c>auto</c>.
    /// </summary>
    public string Device { get; set; } = "auto";

    /// <summary>Seed of shuffling, augmentation, stochastic depth and new weights; null takes the MLContext's seed. Default null.</summary>
    public int? Seed { get; set; }

    /// <summary>Data evaluated after every epoch; with it, the best epoch's weights are kept. Default none.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>
    /// A time budget for the whole training: the trainer measures an epoch, then searches recipe candidates (learning
    /// rate, augmentation, stochastic depth) by successive halving on a validation split, continues the best to the final
    /// model, and stops at the budget with the best weights; the epochs follow from the budget. Candidates are compared
    /// only when the best one can still train at least the recipe's epochs (or <see cref="Epochs"/> when set); a budget
    /// that fits that schedule about once trains the recipe alone, for as many epochs as fit. Options you set are not
    /// searched. Null trains the recipe once. Not used by pretraining. Default null.
    /// </summary>
    public TimeSpan? TrainTime { get; set; }

    /// <summary>
    /// With <see cref="TrainTime"/> and no <see cref="ValidationSet"/>: the share of the training rows held out to compare
    /// candidates and pick the best epoch (stratified by class for classification). Default 0.1.
    /// </summary>
    public double ValidationSetFraction { get; set; } = 0.1;

    /// <summary>Stops after this many epochs of the schedule (the search trains candidates a rung at a time); null runs them all.</summary>
    internal int? StopAfterEpoch { get; set; }

    /// <summary>A factor on the recipe's learning rate (a search candidate's); a learning rate you set is used as it is.</summary>
    internal double SearchLearningRateScale { get; set; } = 1;

    /// <summary>Leaves the recipe block and the starting-weights line out of the log (the search's probe and later candidates; the search prints its own).</summary>
    internal bool QuietRecipe { get; set; }

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

    /// <summary>
    /// What a cancelled run does: false throws <see cref="OperationCanceledException"/>; true writes a checkpoint (with
    /// <see cref="CheckpointDirectory"/>) and returns the model with the best validated weights so far, or the last step's
    /// without validation data. Default false.
    /// </summary>
    public bool ReturnModelWhenCancelled { get; set; }

    /// <summary>
    /// Folder for TensorBoard event files (<c>tensorboard --logdir</c> shows them): the training loss, the learning rate and
    /// images per second after every optimizer step (<c>train/loss</c>, <c>train/learning_rate</c>,
    /// <c>train/images_per_second</c>, and <c>train/metric</c> where the trainer has a training metric), and the validation
    /// metric after every epoch (<c>validation/metric</c>), each at its optimizer step. The folder is created; a resumed run
    /// adds a file to it; with <see cref="TrainTime"/> each candidate writes to a subfolder of its own. Null writes none. Default null.
    /// </summary>
    public string? LogDirectory { get; set; }

    /// <summary>Receives progress after every optimizer step and validation. Default none.</summary>
    public IProgress<BeitTrainingProgress>? Progress { get; set; }

    /// <summary>What happens when a step's loss is NaN or infinite. Default <see cref="BeitNonFiniteLossHandling.Stop"/>.</summary>
    public BeitNonFiniteLossHandling NonFiniteLoss { get; set; } = BeitNonFiniteLossHandling.Stop;

    /// <summary>LibTorch intra-op threads; null leaves LibTorch's default. Default null.</summary>
    public int? Threads { get; set; }

    /// <summary>The learning rate per optimizer step: warmup then cosine (fine-tuning and pretraining); segmentation overrides it with poly.</summary>
    internal virtual Func<int, double> CreateSchedule(int totalSteps, int warmupSteps)
    {
        var cosine = new Training.CosineSchedule(LearningRate!.Value, MinLearningRate!.Value, totalSteps, warmupSteps);
        return step => cosine[step];
    }

    /// <summary>The run's seed: the option, else the interrupted run's (so a resume repeats its draws), else one from the MLContext.</summary>
    internal int ResolveSeed(Runtime.IHost host) =>
        Seed ?? (ResumeFrom is { } resume ? Training.BeitTrainingLoop.ResumedSeed(resume) : null) ?? host.Rand.Next();

    /// <summary>A copy whose null options the recipe can fill without changing the caller's object.</summary>
    internal BeitTrainingOptions CloneOptions() => (BeitTrainingOptions)MemberwiseClone();

    internal virtual void Validate()
    {
        void Require(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}.");
        }
        Require(Epochs is null or >= 1, nameof(Epochs), Epochs!, "must be at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Require(AccumulationSteps >= 1, nameof(AccumulationSteps), AccumulationSteps, "must be at least 1");
        Require(LearningRate is null or > 0, nameof(LearningRate), LearningRate!, "must be positive");
        Require(MinLearningRate is null or >= 0, nameof(MinLearningRate), MinLearningRate!, "cannot be negative");
        Require(WarmupEpochs is null or >= 0, nameof(WarmupEpochs), WarmupEpochs!, "cannot be negative");
        Require(WeightDecay is null or >= 0, nameof(WeightDecay), WeightDecay!, "cannot be negative");
        Require(Betas.Beta1 is >= 0 and < 1 && Betas.Beta2 is >= 0 and < 1, nameof(Betas), Betas, "must both be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be positive");
        Require(LayerDecay is null or (> 0 and <= 1), nameof(LayerDecay), LayerDecay!, "must be in (0, 1]");
        Require(DropPath is null or (>= 0 and < 1), nameof(DropPath), DropPath!, "must be in [0, 1)");
        Require(Enum.IsDefined(Recipe), nameof(Recipe), Recipe, "is not a known recipe");
        Require(ClipGradient is null or > 0, nameof(ClipGradient), ClipGradient!, "must be positive");
        Require(CheckpointEverySteps >= 1, nameof(CheckpointEverySteps), CheckpointEverySteps, "must be at least 1");
        Require(EarlyStoppingPatience is null or >= 1, nameof(EarlyStoppingPatience), EarlyStoppingPatience!, "must be at least 1");
        Require(TrainTime is null || TrainTime > TimeSpan.Zero, nameof(TrainTime), TrainTime!, "must be positive");
        Require(ValidationSetFraction is > 0 and < 1, nameof(ValidationSetFraction), ValidationSetFraction, "must be in (0, 1)");
    }
}
