using System.CommandLine;
using System.Text.RegularExpressions;
using Microsoft.ML.Beit.Checkpoints;

namespace Beit.Trainer;

/// <summary><c>beit info &lt;checkpoint&gt;</c>: the config, parameter count and key layout of a checkpoint.</summary>
internal static partial class InfoCommand
{
    [GeneratedRegex(@"\.layer\.(\d+)\.")]
    private static partial Regex LayerIndex();

    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "Hugging Face directory, .safetensors or .pth file." };
        var options = new CheckpointOptions();
        var command = new Command("info", "Print a checkpoint's config, parameter count and key layout.") { checkpoint };
        options.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            using var loaded = options.Load(parse, parse.GetValue(checkpoint)!);
            Print(loaded);
        }));
        return command;
    }

    static void Print(BeitCheckpoint checkpoint)
    {
        var c = checkpoint.Config;
        Console.WriteLine($"Checkpoint {checkpoint.Source}");
        Console.WriteLine($"Architecture {checkpoint.Architecture}");
        Console.WriteLine($"Layout {checkpoint.Layout}");
        Console.WriteLine($"Parameters {checkpoint.ParameterCount:N0}");
        Console.WriteLine($"Tensors {checkpoint.Weights.Count}");
        Console.WriteLine();
        Console.WriteLine("Config:");
        Console.WriteLine(c.ToJson());
        Console.WriteLine();
        Console.WriteLine($"Keys (Hugging Face names; blocks 1..{c.NumHiddenLayers - 1} repeat block 0):");
        foreach (var (key, tensor) in checkpoint.Weights)
        {
            var layer = LayerIndex().Match(key);
            if (layer.Success && layer.Groups[1].Value != "0") continue;
            Console.WriteLine($"  {key} [{string.Join(", ", tensor.shape)}] {tensor.dtype}");
        }
    }
}
