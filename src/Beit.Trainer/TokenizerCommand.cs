using System.CommandLine;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Pretraining;

namespace Beit.Trainer;

/// <summary>
/// <c>beit tokenizer train</c>: trains a discrete VAE visual tokenizer (for BEiT pretraining) on a folder of images and
/// saves it as one safetensors file that <c>VisualTokenizers.Load</c> reads.
/// </summary>
internal static class TokenizerCommand
{
    public static Command Create() => new("tokenizer", "Visual tokenizers for BEiT pretraining: train a discrete VAE on your own images.")
    {
        Train(),
    };

    static Command Train()
    {
        var defaults = new DiscreteVaeOptions();
        var data = new Option<string>("--data") { Description = $"Folder of images ({string.Join(" ", BeitImageFiles.Extensions)}), searched recursively.", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => defaults.Epochs };
        var output = new Option<string>("--output") { Description = "Tokenizer file to write (safetensors).", DefaultValueFactory = _ => "tokenizer.safetensors" };
        var inputSize = new Option<int>("--input-size") { Description = "Side of the images in pixels (112 for BEiT-224/16); images are resized and center-cropped.", DefaultValueFactory = _ => defaults.InputSize };
        var vocabulary = new Option<int>("--vocabulary-size") { Description = "Number of visual tokens.", DefaultValueFactory = _ => defaults.VocabularySize }.Formerly("--vocab");
        var hidden = new Option<int>("--hidden-channels") { Description = "Width of the first encoder group (a multiple of 4; doubles per group).", DefaultValueFactory = _ => defaults.HiddenChannels }.Formerly("--hidden");
        var downsampling = new Option<int>("--downsampling") { Description = "Pixels per token side, a power of two (8: 112 pixels give 14x14 tokens).", DefaultValueFactory = _ => defaults.Downsampling };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => defaults.BatchSize };
        var blocksPerGroup = new Option<int>("--blocks-per-group") { Description = "Residual blocks per encoder and decoder group.", DefaultValueFactory = _ => defaults.BlocksPerGroup };
        var learningRate = new Option<double>("--learning-rate") { Description = "Peak learning rate (cosine decay).", DefaultValueFactory = _ => defaults.LearningRate }.Formerly("--lr");
        var minLearningRate = new Option<double?>("--min-learning-rate") { Description = $"Learning rate at the end of the cosine (default: {defaults.MinLearningRate:G}, or the peak when that is lower)." };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay of the convolution kernels.", DefaultValueFactory = _ => defaults.WeightDecay };
        var startTemperature = new Option<double>("--start-temperature") { Description = "Gumbel-softmax temperature of the first step.", DefaultValueFactory = _ => defaults.StartTemperature };
        var endTemperature = new Option<double>("--end-temperature") { Description = "Gumbel-softmax temperature of the last step (exponential decay).", DefaultValueFactory = _ => defaults.EndTemperature };
        var klWeight = new Option<double>("--kl-weight") { Description = "Weight of the KL term to the uniform prior; raise it if few codes are used.", DefaultValueFactory = _ => defaults.KlWeight };
        var klWarmupFraction = new Option<double>("--kl-warmup-fraction") { Description = "Share of the steps over which the KL weight rises from 0.", DefaultValueFactory = _ => defaults.KlWarmupFraction };
        var device = new Option<string>("--device") { Description = $"Device: {BeitDevice.Choices}.", DefaultValueFactory = _ => "auto" }.Device();
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => defaults.Seed };
        var command = new Command("train", "Train a dVAE tokenizer (Gumbel-softmax) and save it as a safetensors file.")
        {
            data, epochs, output, inputSize, vocabulary, hidden, downsampling, blocksPerGroup, batchSize, learningRate, minLearningRate, weightDecay,
            startTemperature, endTemperature, klWeight, klWarmupFraction, device, seed,
        };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var options = new DiscreteVaeOptions
            {
                Epochs = parse.GetValue(epochs),
                InputSize = parse.GetValue(inputSize),
                VocabularySize = parse.GetValue(vocabulary),
                HiddenChannels = parse.GetValue(hidden),
                Downsampling = parse.GetValue(downsampling),
                BlocksPerGroup = parse.GetValue(blocksPerGroup),
                BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate),
                MinLearningRate = parse.GetValue(minLearningRate) ?? Math.Min(defaults.MinLearningRate, parse.GetValue(learningRate)),
                WeightDecay = parse.GetValue(weightDecay),
                StartTemperature = parse.GetValue(startTemperature),
                EndTemperature = parse.GetValue(endTemperature),
                KlWeight = parse.GetValue(klWeight),
                KlWarmupFraction = parse.GetValue(klWarmupFraction),
                Device = parse.GetValue(device)!,
                Seed = parse.GetValue(seed),
                Progress = new EpochLines(),
            };
            options.Validate();
            var files = DiscreteVaeTrainer.FindImages(parse.GetValue(data)!);
            var config = options.ToConfig();
            Console.WriteLine($"Training a dVAE tokenizer on {files.Count} images: {config.InputSize}x{config.InputSize} pixels -> " +
                $"{config.GridSize}x{config.GridSize} tokens of {config.VocabularySize}, n_hid {config.HiddenChannels}, {options.Epochs} epochs");
            using var tokenizer = DiscreteVaeTrainer.Train(files, options);
            string file = parse.GetValue(output)!;
            tokenizer.Save(file);
            Console.WriteLine($"Tokenizer {file}");
        }));
        return command;
    }

    /// <summary>One <c>name value</c> line per epoch: reconstruction MSE, KL, temperature, codebook usage, perplexity.</summary>
    sealed class EpochLines : IProgress<DiscreteVaeProgress>
    {
        public void Report(DiscreteVaeProgress value) => Console.WriteLine(value);
    }
}
