using System.CommandLine;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Preprocessing;

namespace Beit.Trainer;

/// <summary><c>beit preprocess</c>: the <c>pixel_values</c> a model would see for one image, for checking against Pillow.</summary>
internal static class PreprocessCommand
{
    public static Command Create()
    {
        var image = new Option<string>("--image") { Description = "Image file.", Required = true };
        var config = new Option<string?>("--preprocessor")
        {
            Description = "preprocessor_config.json (default: the pt22k settings, 224x224 bilinear, mean/std 0.5).",
        }.Formerly("--config");
        var resample = new ChoiceOption<BeitResample>("--resample", "Resampling filter, overriding the preprocessor config's.");
        var output = new Option<string>("--output") { Description = "safetensors file to write pixel_values [1,3,H,W] to.", Required = true };
        var command = new Command("preprocess", "Write the pixel_values tensor of one image.") { image, config, resample, output };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var settings = parse.GetValue(config) is { } path ? BeitPreprocessorConfig.Load(path) : BeitPreprocessorConfig.Pt22k();
            if (resample.Get(parse) is { } filter) settings.Resample = filter;
            using var pixels = new BeitImageProcessor(settings).ProcessBatch([RgbImage.Load(parse.GetValue(image)!)]);
            SafetensorsFile.Write(parse.GetValue(output)!, [KeyValuePair.Create("pixel_values", pixels)]);
            Console.WriteLine($"pixel_values [{string.Join(", ", pixels.shape)}] -> {parse.GetValue(output)}");
        }));
        return command;
    }
}
