using System.CommandLine;
using TorchSharp;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;

namespace Beit.Trainer;

/// <summary>
/// <c>beit forward</c>: runs a checkpoint on the <c>pixel_values</c> (and <c>bool_masked_pos</c>) of a
/// safetensors file and writes every output under the reference data's names, for parity checks.
/// </summary>
internal static class ForwardCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint: Hugging Face directory, .safetensors or .pth.", Required = true };
        var input = new Option<string>("--input") { Description = "safetensors file with pixel_values [B,C,H,W] (and optional bool_masked_pos [B,N]).", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors file to write the outputs to.", Required = true };
        var device = new Option<string>("--device") { Description = $"Device: {BeitDevice.Choices}.", DefaultValueFactory = _ => "auto" }.Device();
        var options = new CheckpointOptions();
        var command = new Command("forward", "Run a model on pixel_values from a safetensors file and write all of its outputs.")
        {
            model, input, output, device,
        };
        options.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            using var checkpoint = options.Load(parse, parse.GetValue(model)!);
            using var module = checkpoint.CreateModel();
            module.to(BeitDevice.Resolve(parse.GetValue(device)));

            var inputs = SafetensorsFile.Read(parse.GetValue(input)!);
            try
            {
                if (!inputs.TryGetValue("pixel_values", out var pixels))
                    throw new InvalidDataException($"{parse.GetValue(input)} has no 'pixel_values' tensor (it has: {string.Join(", ", inputs.Keys)}).");
                inputs.TryGetValue("bool_masked_pos", out var mask);
                var outputs = BeitNamedOutputs.Compute(module, pixels, mask);
                try
                {
                    SafetensorsFile.Write(parse.GetValue(output)!, outputs.OrderBy(p => p.Key, StringComparer.Ordinal));
                    foreach (var (name, tensor) in outputs)
                        Console.WriteLine($"{name} [{string.Join(", ", tensor.shape)}]");
                }
                finally
                {
                    foreach (var t in outputs.Values) t.Dispose();
                }
            }
            finally
            {
                foreach (var t in inputs.Values) t.Dispose();
            }
        }));
        return command;
    }
}
