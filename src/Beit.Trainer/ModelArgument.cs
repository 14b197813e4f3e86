using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;

namespace Beit.Trainer;

/// <summary>How every verb reads <c>--model</c>: a preset name, a config.json for a random model, or a checkpoint / model zip.</summary>
internal static class ModelArgument
{
    public static BeitModelSource Parse(string argument) =>
        BeitConfig.PresetNames.Contains(argument.ToLowerInvariant()) && !Path.Exists(argument) ? BeitModelSource.FromPreset(argument)
        : argument.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && File.Exists(argument) ? BeitModelSource.FromConfig(BeitConfig.Load(argument))
        : BeitModelSource.FromPath(argument);
}
