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
        var output = new Option<string>("--output") { Description = "Backbone model zip to write (a featurizer; 'beit finetune --model' starts from it).", DefaultValueFactory = _ => "backbone.zip" };
        var flags = new TrainingFlags(defaultBatchSize: 64, search: false);
        var maskedPatches = new Option<int?>("--masked-patches") { Description = "Patches masked per image (default: 75 of 196, scaled to the grid)." };
        var imageSize = new Option<int?>("--image-size") { Description = "Input size for a preset model." };
        var minCropScale = new Option<double>("--min-crop-scale") { Description = "Smallest random crop, as a fraction of the image area.", DefaultValueFactory = _ => 0.08 };
        var horizontalFlip = new Option<double>("--horizontal-flip") { Description = "Probability of a horizontal flip.", DefaultValueFactory = _ => 0.5 };
        var layerScale = new Option<double>("--layer-scale-init-value") { Description = "Layer scale initial value of a new model (0 turns it off).", DefaultValueFactory = _ => 0.1 };
        var huggingFace = new Option<string?>("--hugging-face-output-directory") { Description = "Also write a Hugging Face BeitForMaskedImageModeling checkpoint to this folder." }.Formerly("--hf-output");
        var command = new Command("pretrain",
            "Pretrain BEiT by masked image modeling on unlabeled images and save the backbone. Options not given come from the recipe, printed when training starts.")
        {
            data, tokenizer, model, output, maskedPatches, imageSize, minCropScale, horizontalFlip, layerScale, huggingFace,
        };
        flags.AddTo(command);
        command.SetAction((parse, cancellation) => Task.FromResult(CommandRunner.Run(parse, () =>
        {
            var ml = new MLContext(seed: parse.GetValue(flags.Seed));
            TrainingFlags.ShowTrainerMessages(ml);
            string folder = parse.GetValue(data)!;
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--data '{folder}' is not a folder.");
            var files = BeitImageFiles.Find(folder).Select(f => new ImageRow { Path = f }).ToList();
            if (files.Count == 0) throw new FileNotFoundException($"No images ({string.Join(", ", BeitImageFiles.Extensions)}) under '{folder}'.");
            using var visualTokenizer = VisualTokenizers.Load(parse.GetValue(tokenizer)!);
            string modelArg = parse.GetValue(model)!;
            var source = BeitModelSource.Parse(modelArg);
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
                MaskedPatches = parse.GetValue(maskedPatches),
                MinCropScale = parse.GetValue(minCropScale),
                HorizontalFlip = parse.GetValue(horizontalFlip),
                LayerScaleInitValue = parse.GetValue(layerScale),
                HuggingFaceOutputDirectory = parse.GetValue(huggingFace),
                Progress = new ConsoleProgress("masked-token accuracy"),
            };
            flags.Apply(parse, options, cancellation);
            var images = ml.Data.LoadFromEnumerable(files);
            Console.WriteLine($"Pretraining on {files.Count} images with a {visualTokenizer.VocabularySize}-token tokenizer");
            using var backbone = ml.Transforms.BeitPretrain(options).Fit(images);
            Console.Error.WriteLine();
            string zip = parse.GetValue(output)!;
            ml.Model.Save(backbone, images.Schema, zip);
            Console.WriteLine($"Backbone {zip}");
            Console.WriteLine($"Next: {Invocation.Command("finetune")} --model {zip} --data <labelled folder>");
        })));
        return command;
    }
}
