using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Pretraining;

namespace Beit.Trainer;

/// <summary><c>beit pretrain</c>: masked image modeling on a folder of unlabeled images; writes a backbone model zip.</summary>
internal static class PretrainCommand
{
    /// <summary>One unlabeled image.</summary>
    public sealed class ImageRow
    {
        /// <summary>Image path.</summary>
        public string Path { get; set; } = "";
    }

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "A folder of images (searched recursively; labels are not used).", Required = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "The visual tokenizer: a DALL-E encoder .safetensors or a dVAE from 'beit tokenizer train'.", Required = true };
        var model = new Option<string>("--model") { Description = "A preset (tiny, base, large), a config.json for a new model, or a checkpoint to continue from.", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => 10 };
        var output = new Option<string>("--output") { Description = "Backbone model zip to write (a featurizer; 'beit finetune --model' starts from it).", DefaultValueFactory = _ => "backbone.zip" };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 64 };
        var learningRate = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => 5e-4 };
        var warmup = new Option<double>("--warmup-epochs") { Description = "Warmup epochs.", DefaultValueFactory = _ => 10 };
        var maskedPatches = new Option<int?>("--masked-patches") { Description = "Patches masked per image (default: 75 of 196, scaled to the grid)." };
        var imageSize = new Option<int?>("--image-size") { Description = "Input size for a preset model." };
        var device = new Option<string>("--device") { Description = $"Device: {BeitDevice.Choices}.", DefaultValueFactory = _ => "auto" };
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };
        var checkpoints = new Option<string?>("--checkpoints") { Description = "Folder for training checkpoints (resume with --resume)." };
        var resume = new Option<string?>("--resume") { Description = "Checkpoint folder to resume an interrupted run from." };
        var huggingFace = new Option<string?>("--hf-output") { Description = "Also write a Hugging Face BeitForMaskedImageModeling checkpoint to this folder." };
        var command = new Command("pretrain", "Pretrain BEiT by masked image modeling on unlabeled images and save the backbone.")
        {
            data, tokenizer, model, epochs, output, batchSize, learningRate, warmup, maskedPatches, imageSize, device, seed, checkpoints, resume, huggingFace,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            var ml = new MLContext(seed: parse.GetValue(seed));
            string folder = parse.GetValue(data)!;
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--data '{folder}' is not a folder.");
            var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Where(f => System.IO.Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".bmp" or ".webp")
                .Order(StringComparer.Ordinal).Select(f => new ImageRow { Path = f }).ToList();
            if (files.Count == 0) throw new FileNotFoundException($"No images (.png, .jpg, .jpeg, .bmp, .webp) under '{folder}'.");
            using var visualTokenizer = VisualTokenizers.Load(parse.GetValue(tokenizer)!);
            string modelArg = parse.GetValue(model)!;
            var source = ModelArgument.Parse(modelArg);
            if (parse.GetValue(imageSize) is int size && source.Path is null)
            {
                var config = source.Config?.Clone() ?? BeitConfig.FromPreset(source.Preset!);
                config.ImageSize = size;
                source = BeitModelSource.FromConfig(config);
            }
            var options = new BeitPretrainOptions
            {
                Model = source,
                Tokenizer = visualTokenizer,
                ImageColumnName = "Path",
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate),
                WarmupEpochs = parse.GetValue(warmup),
                MaskedPatches = parse.GetValue(maskedPatches),
                Device = parse.GetValue(device)!,
                Seed = parse.GetValue(seed),
                CheckpointDirectory = parse.GetValue(checkpoints),
                ResumeFrom = parse.GetValue(resume),
                HuggingFaceOutputDirectory = parse.GetValue(huggingFace),
                Progress = new ConsoleProgress("masked-token accuracy"),
            };
            var images = ml.Data.LoadFromEnumerable(files);
            Console.WriteLine($"Pretraining on {files.Count} images with a {visualTokenizer.VocabularySize}-token tokenizer");
            using var backbone = ml.Transforms.BeitPretrain(options).Fit(images);
            Console.Error.WriteLine();
            string zip = parse.GetValue(output)!;
            ml.Model.Save(backbone, images.Schema, zip);
            Console.WriteLine($"Backbone {zip}");
            Console.WriteLine($"Next: dotnet run --project src/Beit.Trainer -- finetune --model {zip} --data <labelled folder>");
        }));
        return command;
    }
}
