using System.CommandLine;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;

namespace Beit.Trainer;

/// <summary>The options every verb that reads a checkpoint shares, named after <see cref="BeitCheckpointOptions"/>.</summary>
internal sealed class CheckpointOptions
{
    public Option<string?> Config { get; } = new Option<string?>("--config-path")
    {
        Description = "config.json for a checkpoint that carries none (unilm .pth, bare .safetensors).",
    }.Formerly("--config");

    public Option<string?> Preset { get; } = new Option<string?>("--preset")
    {
        Description = $"Preset for what the weights do not determine: {string.Join(", ", BeitConfig.PresetNames)}.",
    }.Preset();

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(Preset);
    }

    public BeitCheckpoint Load(ParseResult parse, string path) => BeitCheckpoint.Load(path, new BeitCheckpointOptions
    {
        ConfigPath = parse.GetValue(Config),
        Preset = parse.GetValue(Preset),
    });
}
