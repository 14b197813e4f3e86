using System.Text.RegularExpressions;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Training;

/// <summary>One optimizer parameter group: parameters sharing a learning-rate scale and a weight decay.</summary>
/// <param name="LayerId">0 for the embeddings, i + 1 for block i, L + 1 for everything after the blocks.</param>
/// <param name="LearningRateScale">layer_decay^(L + 1 - LayerId).</param>
/// <param name="WeightDecay">The options' weight decay, or 0 for parameters exempt from it.</param>
/// <param name="Names">The parameters' names.</param>
/// <param name="Parameters">The parameters, in the same order.</param>
internal sealed record BeitParameterGroup(int LayerId, double LearningRateScale, double WeightDecay, IReadOnlyList<string> Names, IReadOnlyList<Parameter> Parameters);

/// <summary>
/// Layer-wise learning-rate decay and weight-decay exemptions exactly as unilm's fine-tuning
/// (<c>get_num_layer_for_vit</c>, <c>LayerDecayValueAssigner</c>, <c>get_parameter_groups</c>): the embeddings
/// are layer 0, block i is layer i + 1, everything else (shared relative position bias, pooler, heads) layer
/// L + 1; a layer's learning rate is scaled by layer_decay^(L + 1 - layer). Biases, other 1-D parameters
/// (LayerNorms, layer scale), position embeddings, CLS/mask tokens and relative position tables get no weight decay.
/// </summary>
internal static partial class BeitLayerDecay
{
    [GeneratedRegex(@"(?:^|\.)encoder\.layer\.(\d+)\.")]
    private static partial Regex BlockParameter();

    /// <summary>The layer id of a parameter (Hugging Face names, with or without the <c>beit.</c> prefix).</summary>
    public static int LayerId(string name, int numLayers)
    {
        if (BlockParameter().Match(name) is { Success: true } block) return int.Parse(block.Groups[1].Value) + 1;
        if (name.StartsWith("beit.embeddings.", StringComparison.Ordinal) || name.StartsWith("embeddings.", StringComparison.Ordinal)) return 0;
        return numLayers + 1;
    }

    /// <summary>Whether a parameter is exempt from weight decay.</summary>
    public static bool SkipsWeightDecay(string name, Tensor parameter) =>
        parameter.dim() == 1 || name.EndsWith(".bias", StringComparison.Ordinal)
        || name.EndsWith("position_embeddings", StringComparison.Ordinal) || name.EndsWith("cls_token", StringComparison.Ordinal)
        || name.EndsWith("mask_token", StringComparison.Ordinal) || name.EndsWith("relative_position_bias_table", StringComparison.Ordinal);

    /// <summary>Groups the trainable parameters of <paramref name="model"/> by layer and weight-decay exemption.</summary>
    public static IReadOnlyList<BeitParameterGroup> Groups(nn.Module model, int numLayers, double layerDecay, double weightDecay)
    {
        var groups = new SortedDictionary<(int Layer, bool NoDecay), (List<string> Names, List<Parameter> Parameters)>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (!parameter.requires_grad) continue;
            var key = (LayerId(name, numLayers), SkipsWeightDecay(name, parameter));
            if (!groups.TryGetValue(key, out var group)) groups[key] = group = ([], []);
            group.Names.Add(name);
            group.Parameters.Add(parameter);
        }
        return groups.Select(g => new BeitParameterGroup(g.Key.Layer, Math.Pow(layerDecay, numLayers + 1 - g.Key.Layer),
            g.Key.NoDecay ? 0 : weightDecay, g.Value.Names, g.Value.Parameters)).ToList();
    }
}
