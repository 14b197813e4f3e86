using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Runtime;

namespace Beit.Trainer;

/// <summary>
/// The flags of <see cref="BeitTrainingOptions"/> that every training verb shares, named after the options in kebab case.
/// A flag left out leaves its option null, so the recipe chooses it; the chosen recipe is printed when training starts.
/// </summary>
internal sealed class TrainingFlags
{
    public readonly ChoiceOption<BeitRecipe> Recipe = new("--recipe",
        "Training recipe for the options not given: auto (from the starting model), from-scratch, pretrained, continue-training.", BeitRecipe.Auto);
    public readonly Option<int?> Epochs = new("--epochs") { Description = "Epochs (default: the recipe's, sized to the data)." };
    public readonly Option<int> BatchSize;
    public readonly Option<int> AccumulationSteps = new("--accumulation-steps") { Description = "Micro-batches per optimizer step.", DefaultValueFactory = _ => 1 };
    public readonly Option<double?> LearningRate = new Option<double?>("--learning-rate") { Description = "Peak learning rate (default: the recipe's)." }.Formerly("--lr");
    public readonly Option<double?> MinLearningRate = new("--min-learning-rate") { Description = "Learning rate at the end of the schedule (default: the recipe's)." };
    public readonly Option<double?> WarmupEpochs = new("--warmup-epochs") { Description = "Epochs of linear warmup (default: the recipe's)." };
    public readonly Option<double?> WeightDecay = new("--weight-decay") { Description = "AdamW weight decay (default: the recipe's, 0.05)." };
    public readonly Option<double?> LayerDecay = new("--layer-decay") { Description = "Layer-wise learning-rate decay, 1 for none (default: the recipe's)." };
    public readonly Option<double?> DropPath = new("--drop-path") { Description = "Stochastic depth rate of the last block (default: the recipe's)." };
    public readonly Option<double?> ClipGradient = new("--clip-gradient") { Description = "Clip the gradient norm to this (default: no clipping, or the verb's)." };
    public readonly Option<int?> EarlyStoppingPatience = new("--early-stopping-patience") { Description = "Stop when validation has not improved for this many epochs." };
    public readonly Option<string> Device = new Option<string>("--device") { Description = $"Device: {BeitDevice.Choices}.", DefaultValueFactory = _ => "auto" }.Device();
    public readonly Option<int?> Threads = new("--threads") { Description = "LibTorch threads (default: LibTorch's, all cores)." };
    public readonly Option<int> Seed = new("--seed") { Description = "Seed of the initial weights, the shuffling and the augmentations.", DefaultValueFactory = _ => 1 };
    public readonly Option<string?> Checkpoints = new Option<string?>("--checkpoint-directory") { Description = "Folder for training checkpoints (resume with --resume-from)." }.Formerly("--checkpoints");
    public readonly Option<string?> Resume = new Option<string?>("--resume-from") { Description = "Checkpoint folder to resume an interrupted run from." }.Formerly("--resume");
    public readonly Option<string?> LogDirectory = new("--log-directory", "--logdir")
    {
        Description = "Folder for TensorBoard event files: loss, learning rate, images/s per step, validation metric per epoch.",
    };

    public readonly Option<double?> TrainTime = new("--train-time")
    {
        Description = "Seconds to train in all: searches recipe candidates on a validation split and keeps the best model (default: train the recipe once).",
    };
    public readonly Option<double> ValidationSetFraction = new("--validation-set-fraction")
    {
        Description = "With --train-time and no --validation: the share of the training images held out to compare candidates.",
        DefaultValueFactory = _ => 0.1,
    };
    readonly bool _search;

    public TrainingFlags(int defaultBatchSize, bool search)
    {
        _search = search;
        TrainTime.Check(seconds => seconds <= 0 ? $"--train-time must be a positive number of seconds, not {seconds}." : null);
        ValidationSetFraction.Check(share => share is <= 0 or >= 1 ? $"--validation-set-fraction must be between 0 and 1, not {share}." : null);
        BatchSize = new Option<int>("--batch-size") { Description = "Images per micro-batch.", DefaultValueFactory = _ => defaultBatchSize }.AtLeast(1);
        foreach (var option in new[] { Epochs, EarlyStoppingPatience, Threads }) option.AtLeast(1);
        AccumulationSteps.AtLeast(1);
        WarmupEpochs.Check(epochs => epochs < 0 ? $"--warmup-epochs cannot be negative, not {epochs}." : null);
    }

    /// <summary>Adds the shared flags to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Recipe, Epochs, BatchSize, AccumulationSteps, LearningRate, MinLearningRate, WarmupEpochs, WeightDecay,
                     LayerDecay, DropPath, ClipGradient, EarlyStoppingPatience, Device, Threads, Seed, Checkpoints, Resume, LogDirectory })
            command.Options.Add(option);
        if (!_search) return;
        command.Options.Add(TrainTime);
        command.Options.Add(ValidationSetFraction);
    }

    /// <summary>Copies the flags given into <paramref name="options"/>; those not given stay as the options have them.</summary>
    public void Apply(ParseResult parse, BeitTrainingOptions options, CancellationToken cancellation)
    {
        options.Recipe = Recipe.Get(parse)!.Value;
        options.Epochs = parse.GetValue(Epochs) ?? options.Epochs;
        options.BatchSize = parse.GetValue(BatchSize);
        options.AccumulationSteps = parse.GetValue(AccumulationSteps);
        options.LearningRate = parse.GetValue(LearningRate) ?? options.LearningRate;
        options.MinLearningRate = parse.GetValue(MinLearningRate) ?? options.MinLearningRate;
        options.WarmupEpochs = parse.GetValue(WarmupEpochs) ?? options.WarmupEpochs;
        options.WeightDecay = parse.GetValue(WeightDecay) ?? options.WeightDecay;
        options.LayerDecay = parse.GetValue(LayerDecay) ?? options.LayerDecay;
        options.DropPath = parse.GetValue(DropPath) ?? options.DropPath;
        options.ClipGradient = parse.GetValue(ClipGradient) ?? options.ClipGradient;
        options.EarlyStoppingPatience = parse.GetValue(EarlyStoppingPatience);
        options.Device = parse.GetValue(Device)!;
        options.Threads = parse.GetValue(Threads);
        options.Seed = parse.GetValue(Seed);
        options.CheckpointDirectory = parse.GetValue(Checkpoints);
        options.ResumeFrom = parse.GetValue(Resume);
        options.LogDirectory = parse.GetValue(LogDirectory);
        if (_search)
        {
            options.TrainTime = parse.GetValue(TrainTime) is double seconds ? TimeSpan.FromSeconds(seconds) : null;
            options.ValidationSetFraction = parse.GetValue(ValidationSetFraction);
        }
        options.CancellationToken = CancellationTokenSource.CreateLinkedTokenSource(cancellation, CtrlC.Token).Token;
        // Ctrl+C stops training between steps and keeps what was learned: the tool still saves the model.
        options.ReturnModelWhenCancelled = true;
    }

    /// <summary>Prints the trainers' own messages (the recipe they chose, where they start from) as training starts.</summary>
    public static void ShowTrainerMessages(MLContext ml)
    {
        ml.Log += (_, e) =>
        {
            // Per-epoch lines are left to the progress line, which shows them already.
            if (e.Kind is ChannelMessageKind.Info or ChannelMessageKind.Warning && e.Source.StartsWith("Beit", StringComparison.Ordinal)
                && !e.RawMessage.StartsWith("epoch ", StringComparison.Ordinal))
                Console.Error.WriteLine($"\r{e.RawMessage}");
        };
    }

    /// <summary>Ctrl+C (SIGINT) as a cancellation: the first press stops training between steps instead of ending the process.</summary>
    static class CtrlC
    {
        static readonly CancellationTokenSource Source = new();

        static CtrlC()
        {
            Console.CancelKeyPress += (_, e) =>
            {
                // A second Ctrl+C, while the model is being saved, ends the process as usual.
                if (Source.IsCancellationRequested) return;
                e.Cancel = true;
                Console.Error.WriteLine("\rstopping after this step; the model trained so far will be saved (Ctrl+C again to quit now)");
                Source.Cancel();
            };
        }

        public static CancellationToken Token => Source.Token;
    }
}
