using System.CommandLine;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Beit.Trainer;

/// <summary><c>beit demo</c>: writes a randomly initialised BEiT in the Hugging Face layout, to try the other verbs on.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Directory to write config.json and model.safetensors to.", Required = true };
        var preset = new Option<string>("--preset") { Description = $"Size: {string.Join(", ", BeitConfig.PresetNames)}.", DefaultValueFactory = _ => "tiny" }.Preset();
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => 1 };
        var command = new Command("demo", "Write a randomly initialised masked-image-modeling BEiT (Hugging Face layout).") { output, preset, seed };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var config = BeitConfig.FromPreset(parse.GetValue(preset)!);
            // The patch convolution keeps what its constructor draws from the global generator: seed that too.
            manual_seed(parse.GetValue(seed));
            using var model = new BeitForMaskedImageModeling(config);
            BeitInitializer.Initialize(model, config, new Generator((ulong)parse.GetValue(seed)));
            string directory = parse.GetValue(output)!;
            BeitCheckpoint.Save(model, directory);
            Console.WriteLine($"Wrote a random {parse.GetValue(preset)} BEiT ({model.parameters().Sum(p => p.numel()):N0} parameters) to {directory}");
        }));
        return command;
    }
}
