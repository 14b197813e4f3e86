using System.Text.RegularExpressions;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>
/// Reads the architecture off a state dict in Hugging Face keys. The weights fix the width, depth,
/// MLP size, patch size, channels, grid (from the position tables), heads (from a relative position
/// table), vocabulary, classes, layer scale, kind of position bias and pooling; what they cannot fix
/// (heads without a relative table, LayerNorm epsilon, activation) comes from a hint config, or
/// defaults to what the checkpoint's layout implies (unilm models all use LayerNorm eps 1e-6).
/// </summary>
internal static partial class BeitConfigInference
{
    [GeneratedRegex(@"^beit\.encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerKey();

    const string Embeddings = "beit.embeddings.";
    const string LayerZero = "beit.encoder.layer.0.";
    const string PerLayerTable = LayerZero + "attention.attention.relative_position_bias.relative_position_bias_table";
    const string SharedTable = "beit.encoder.relative_position_bias.relative_position_bias_table";

    public static BeitConfig Infer(IReadOnlyDictionary<string, Tensor> weights, BeitConfig? hints, BeitCheckpointLayout layout, string source)
    {
        Tensor Need(string key) => weights.TryGetValue(key, out var t) ? t
            : throw new InvalidDataException($"{source}: cannot read the architecture: the checkpoint has no '{key}'. " +
                "Is it a BEiT checkpoint? (Keys found: " + string.Join(", ", weights.Keys.Take(8)) + (weights.Count > 8 ? ", ..." : "") + ")");

        var config = hints?.Clone() ?? new BeitConfig { LayerNormEps = layout == BeitCheckpointLayout.Unilm ? 1e-6 : 1e-12 };
        var projection = Need(Embeddings + "patch_embeddings.projection.weight");
        config.HiddenSize = (int)Need(Embeddings + "cls_token").shape[^1];
        config.NumChannels = (int)projection.shape[1];
        config.PatchSize = (int)projection.shape[^1];
        if (projection.shape[^1] != projection.shape[^2])
            throw new InvalidDataException($"{source}: patches of {projection.shape[^2]}x{projection.shape[^1]} pixels are not supported; only square patches are.");
        config.NumHiddenLayers = weights.Keys.Select(k => LayerKey().Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value) + 1).DefaultIfEmpty(0).Max();
        if (config.NumHiddenLayers == 0)
            throw new InvalidDataException($"{source}: the checkpoint has no transformer blocks (no 'beit.encoder.layer.N.*' keys).");
        config.IntermediateSize = (int)Need(LayerZero + "intermediate.dense.weight").shape[0];
        config.UseMaskToken = weights.ContainsKey(Embeddings + "mask_token");
        config.UseAbsolutePositionEmbeddings = weights.ContainsKey(Embeddings + "position_embeddings");
        config.UseRelativePositionBias = weights.ContainsKey(PerLayerTable);
        config.UseSharedRelativePositionBias = weights.ContainsKey(SharedTable);
        if (!weights.ContainsKey(LayerZero + "lambda_1"))
            config.LayerScaleInitValue = 0;
        else if (config.LayerScaleInitValue <= 0)
            config.LayerScaleInitValue = 0.1;
        // Mean pooling has the pooler's LayerNorm; CLS pooling the backbone's final one. A masked-image-
        // modeling checkpoint has neither and keeps Hugging Face's convention (use_mean_pooling true).
        if (weights.ContainsKey("beit.pooler.layernorm.weight")) config.UseMeanPooling = true;
        else if (weights.ContainsKey("beit.layernorm.weight")) config.UseMeanPooling = false;
        else if (weights.ContainsKey("lm_head.weight")) config.UseMeanPooling = true;
        if (weights.TryGetValue("lm_head.weight", out var lmHead))
            config.VocabSize = (int)lmHead.shape[0];
        if (weights.TryGetValue("classifier.weight", out var classifier))
            SetClassCount(config, (int)classifier.shape[0]);

        var unknown = new List<string>();
        int? grid = GridFromWeights(weights, source);
        if (grid is int g) config.ImageSize = g * config.PatchSize;
        else if (hints is null) unknown.Add("the image size (no position embeddings or relative position table to read the patch grid from)");

        var table = weights.GetValueOrDefault(PerLayerTable) ?? weights.GetValueOrDefault(SharedTable);
        if (table is not null) config.NumAttentionHeads = (int)table.shape[1];
        else if (hints is null) unknown.Add("the number of attention heads (no relative position table to read it from)");

        if (unknown.Count > 0)
            throw new InvalidDataException(
                $"{source}: the weights do not determine {string.Join(" or ", unknown)}. " +
                $"Put a config.json beside the checkpoint, pass a config (--config) or name a preset ({string.Join(", ", BeitConfig.PresetNames)}).");
        config.Validate(source);
        return config;
    }

    static void SetClassCount(BeitConfig config, int classes)
    {
        if (config.NumLabels != classes)
            config.SetLabels(Enumerable.Range(0, classes).Select(i => $"LABEL_{i}").ToList());
    }

    static int? GridFromWeights(IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var table = weights.GetValueOrDefault(PerLayerTable) ?? weights.GetValueOrDefault(SharedTable);
        if (table is not null)
        {
            // rows = (2G - 1)^2 + 3 for a square G x G grid.
            long offsets = table.shape[0] - 3;
            int side = (int)Math.Round(Math.Sqrt(offsets));
            if (side * side != offsets || side % 2 == 0)
                throw new InvalidDataException(
                    $"{source}: a relative position table of {table.shape[0]} rows does not fit a square patch grid; only square grids are supported.");
            return (side + 1) / 2;
        }
        if (weights.TryGetValue(Embeddings + "position_embeddings", out var positions))
        {
            long patches = positions.shape[1] - 1;
            int side = (int)Math.Round(Math.Sqrt(patches));
            if (side * side != patches)
                throw new InvalidDataException($"{source}: {patches} position embeddings do not fit a square patch grid.");
            return side;
        }
        return null;
    }
}
