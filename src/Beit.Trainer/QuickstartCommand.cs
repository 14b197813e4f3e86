using System.CommandLine;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;
using SkiaSharp;

namespace Beit.Trainer;

/// <summary>
/// <c>beit quickstart</c>: trains a small BEiT on the Fashion-MNIST subset the repository ships
/// (samples/data/fashion-mnist), evaluates it on held-out images and saves the model, offline, in about a minute.
/// </summary>
internal static class QuickstartCommand
{

    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "The Fashion-MNIST IDX folder (default: samples/data/fashion-mnist of this repository)." };
        var output = new Option<string>("--output") { Description = "Folder for the images, the checkpoints and model.zip.", DefaultValueFactory = _ => "quickstart" };
        var epochs = new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => 20 };
        var train = new Option<int>("--train-images") { Description = "Training images (2,000 are shipped; the full set has 60,000).", DefaultValueFactory = _ => 2000 };
        var test = new Option<int>("--test-images") { Description = "Held-out images to evaluate on (500 are shipped; the full set has 10,000).", DefaultValueFactory = _ => 500 };
        var architecture = new Option<string?>("--model-config") { Description = "A config.json for the model trained from scratch (default: 7x7 patches, 64 wide, 3 blocks)." };
        var augment = new Option<bool>("--augment") { Description = "Train on random crops (80-100 % of the area) and flips." };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var learningRate = new Option<double>("--learning-rate") { Description = "Peak learning rate.", DefaultValueFactory = _ => 1e-3 }.Formerly("--lr");
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => 0.1 };
        var dropPath = new Option<double>("--drop-path") { Description = "Stochastic depth rate of the last block.", DefaultValueFactory = _ => 0 };
        var validationEvery = new Option<int>("--validate-every") {
            Description = "Hold out every Nth training image to validate each epoch and keep the best epoch; 0 trains on all of them.",
            DefaultValueFactory = _ => 10 };
        validationEvery.Check(every => every is < 0 or 1 ? $"--validate-every must be 0 (no validation) or at least 2, not {every}." : null);
        var seed = new Option<int>("--seed") { Description = "Seed of the initial weights, the shuffling and the augmentations.", DefaultValueFactory = _ => 7 };
        var command = new Command("quickstart", "Train, evaluate and save a small BEiT classifier on the bundled Fashion-MNIST subset.")
        {
            data, output, epochs, train, test, architecture, augment, batchSize, learningRate, weightDecay, dropPath, validationEvery, seed,
        };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string source = parse.GetValue(data) ?? FashionMnistIdx.FindBundledFolder();
            string root = parse.GetValue(output)!;
            var trainRows = Extract(source, "train", Path.Combine(root, "images", "train"), parse.GetValue(train));
            var testRows = Extract(source, "t10k", Path.Combine(root, "images", "test"), parse.GetValue(test));
            var ml = new MLContext(seed: 1);
            var options = new BeitFinetuneOptions
            {
                // A small BEiT for 28x28 images trained from scratch: 7x7 patches, 64 wide, 3 blocks.
                Model = BeitModelSource.FromConfig(parse.GetValue(architecture) is { } file ? BeitConfig.Load(file) : new BeitConfig
                {
                    ImageSize = 28, PatchSize = 7, HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 128,
                    UseRelativePositionBias = true, LayerNormEps = 1e-6, LayerScaleInitValue = 0,
                }),
                ImageColumnName = "Path",
                PredictedLabelColumnName = "PredictedLabelKey",
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate),
                WarmupEpochs = 1,
                WeightDecay = parse.GetValue(weightDecay),
                LayerDecay = 1.0,
                DropPath = parse.GetValue(dropPath),
                HeadInitScale = 1.0,
                Augment = parse.GetValue(augment),
                MinCropScale = 0.8,
                RandAugmentLayers = 0,
                RandomErasing = 0,
                Seed = parse.GetValue(seed),
            };
            // Every Nth training image validates (and picks the best epoch); the test images only measure the result.
            int every = parse.GetValue(validationEvery);
            var validationRows = every == 0 ? null : trainRows.Where((_, i) => i % every == every - 1).ToList();
            var fitRows = every == 0 ? trainRows : trainRows.Where((_, i) => i % every != every - 1).ToList();
            FinetuneCommand.Train(ml, fitRows, validationRows, options, Path.Combine(root, "model.zip"), testRows);
            Console.WriteLine($"Next: {Invocation.Command("predict")} --model {Path.Combine(root, "model.zip")} --images {Path.Combine(root, "images", "test", "Bag")}");
        }));
        return command;
    }

    // Writes the IDX images as PNGs in one folder per class, as a user's own data would be laid out.
    internal static List<LabeledImage> Extract(string source, string kind, string folder, int count)
    {
        var split = FashionMnistIdx.Read(source, kind);
        var result = new List<LabeledImage>();
        for (int i = 0; i < Math.Min(count, split.Count); i++)
        {
            string label = FashionMnistIdx.ClassNames[split.Labels[i]], directory = Path.Combine(folder, label), path = Path.Combine(directory, $"{kind}-{i:D5}.png");
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(directory);
                File.WriteAllBytes(path, split.ItemPng(i));
            }
            result.Add(new LabeledImage { Path = path, Label = label });
        }
        return result;
    }
}
