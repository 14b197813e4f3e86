namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// How <see cref="DiscreteVaeTrainer"/> builds and trains a dVAE tokenizer. The loss per batch is
/// <c>MSE(reconstruction, pixels) + klWeight * KL(q || uniform)</c>: the pixel mean squared error on [0, 1] pixels of the
/// decoder's output for a Gumbel-softmax sample of the token grid, plus the KL divergence of the encoder's token
/// distribution q from the uniform prior, in nats per grid position. The temperature decays exponentially from
/// <see cref="StartTemperature"/> to <see cref="EndTemperature"/> over the run; the KL weight rises linearly from 0 to
/// <see cref="KlWeight"/> over the first <see cref="KlWarmupFraction"/> of the steps (DALL-E anneals both the same
/// way); the learning rate follows a cosine from <see cref="LearningRate"/> to <see cref="MinLearningRate"/> (AdamW).
/// </summary>
public sealed class DiscreteVaeOptions
{
    /// <summary>Side of the square training images, in pixels; images are resized (short side, bicubic) and center-cropped to it. Default 112.</summary>
    public int InputSize { get; set; } = 112;

    /// <summary>Number of visual tokens (the BEiT MIM head's output size). Default 8192.</summary>
    public int VocabularySize { get; set; } = 8192;

    /// <summary>Width of the first encoder group (DALL-E <c>n_hid</c>, a multiple of 4); later groups double it. Default 64.</summary>
    public int HiddenChannels { get; set; } = 64;

    /// <summary>Pixels per token side, a power of two (8: 112 pixels give 14x14 tokens, BEiT-224/16's grid). Default 8.</summary>
    public int Downsampling { get; set; } = 8;

    /// <summary>Residual blocks per group (DALL-E <c>n_blk_per_group</c>). Default 1.</summary>
    public int BlocksPerGroup { get; set; } = 1;

    /// <summary>Passes over the images. Default 10.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Images per optimizer step. Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Peak AdamW learning rate (start of the cosine). Default 1e-3.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Learning rate at the end of the cosine. Default 1e-5.</summary>
    public double MinLearningRate { get; set; } = 1e-5;

    /// <summary>AdamW decoupled weight decay of the convolution kernels (biases get none). Default 1e-4 (DALL-E's).</summary>
    public double WeightDecay { get; set; } = 1e-4;

    /// <summary>Gumbel-softmax temperature of the first step. Default 1.0 (DALL-E's).</summary>
    public double StartTemperature { get; set; } = 1.0;

    /// <summary>Gumbel-softmax temperature of the last step, reached by exponential decay. Default 1/16 (DALL-E's).</summary>
    public double EndTemperature { get; set; } = 1.0 / 16;

    /// <summary>
    /// Final weight of the KL term (nats per grid position) next to the per-pixel MSE. Default 0.01: with these
    /// normalisations 1e-3 let the codebook collapse to a handful of codes on Fashion-MNIST (4 of 64 after 20 epochs),
    /// while 0.01 kept most in use at a similar reconstruction error; raise it if few codes are used, lower it if the
    /// reconstructions blur.
    /// </summary>
    public double KlWeight { get; set; } = 0.01;

    /// <summary>Fraction of the optimizer steps over which the KL weight rises from 0 to <see cref="KlWeight"/>. Default 0.1.</summary>
    public double KlWarmupFraction { get; set; } = 0.1;

    /// <summary>Device: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. Default <c>auto</c>.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Seed of the initial weights, the shuffling and the Gumbel noise. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Receives the statistics of each finished epoch. Default none.</summary>
    public IProgress<DiscreteVaeProgress>? Progress { get; set; }

    /// <summary>Stops training between steps (an <see cref="OperationCanceledException"/> is thrown). Default none.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>The architecture these options build.</summary>
    public DiscreteVaeConfig ToConfig() => new()
    {
        InputSize = InputSize, VocabularySize = VocabularySize, HiddenChannels = HiddenChannels,
        Downsampling = Downsampling, BlocksPerGroup = BlocksPerGroup,
    };

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the option and its value.</exception>
    public void Validate()
    {
        void Require(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} is {value}; it {rule}.");
        }
        Require(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be positive");
        Require(MinLearningRate >= 0 && MinLearningRate <= LearningRate, nameof(MinLearningRate), MinLearningRate, "must be between 0 and LearningRate");
        Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "cannot be negative");
        Require(StartTemperature > 0 && double.IsFinite(StartTemperature), nameof(StartTemperature), StartTemperature, "must be positive");
        Require(EndTemperature > 0 && EndTemperature <= StartTemperature, nameof(EndTemperature), EndTemperature, "must be positive and at most StartTemperature");
        Require(KlWeight >= 0 && double.IsFinite(KlWeight), nameof(KlWeight), KlWeight, "cannot be negative");
        Require(KlWarmupFraction is >= 0 and <= 1, nameof(KlWarmupFraction), KlWarmupFraction, "must be in [0, 1]");
        ToConfig().Validate("DiscreteVaeOptions");
    }
}
