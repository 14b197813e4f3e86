using System.Text.RegularExpressions;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>Where the config that accompanies a checkpoint's weights came from.</summary>
internal enum ConfigSource
{
    /// <summary>No config: everything comes from the weights and the layout's defaults.</summary>
    None,
    /// <summary>A named preset: it only fills in what the weights do not determine.</summary>
    Preset,
    /// <summary>A config.json (the checkpoint's own, one beside it, or an explicit one): it must agree with the weights.</summary>
    ConfigFile,
}

/// <summary>
/// Reads the architecture off a state dict in Hugging Face keys. The weights fix the width, depth,
/// MLP size, patch size, channels, grid (from the position tables), heads (from a relative position
/// table), vocabulary, classes, layer scale, kind of position bias and pooling. What they cannot fix
/// (heads without a relative table, LayerNorm epsilon, activation) comes from the hint config, or from
/// the layout (every unilm BEiT model uses LayerNorm eps 1e-6). A config file that contradicts the
/// weights is an error naming each field; a preset is only a fallback.
/// </summary>
internal static partial class BeitConfigInference
{
    [GeneratedRegex(@"^beit\.encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerKey();

    const string Embeddings = "beit.embeddings.";
    const string LayerZero = "beit.encoder.layer.0.";
    const string PerLayerTable = LayerZero + "attention.attention.relative_position_bias.relative_position_bias_table";
    const string SharedTable = "beit.encoder.relative_position_bias.relative_position_bias_table";

    public static BeitConfig Infer(IReadOnlyDictionary<string, Tensor> weights, BeitConfig? hints, ConfigSource hintSource,
        BeitCheckpointLayout layout, string source)
    {
        Tensor Need(string key) => weights.TryGetValue(key, out var t) ? t
            : throw new InvalidDataException($"{source}: cannot read the architecture: the checkpoint has no '{key}'. " +
                "Is it a BEiT checkpoint? (Keys found: " + string.Join(", ", weights.Keys.Take(8)) + (weights.Count > 8 ? ", ..." : "") + ")");

        double layoutEps = layout == BeitCheckpointLayout.Unilm ? 1e-6 : 1e-12;
        var config = hints?.Clone() ?? new BeitConfig();
        if (hintSource != ConfigSource.ConfigFile) config.LayerNormEps = layoutEps;
        var conflicts = new List<string>();
        void Determined<T>(string field, T fromWeights, Func<BeitConfig, T> get, Action<BeitConfig, T> set)
        {
            if (hintSource == ConfigSource.ConfigFile && !EqualityComparer<T>.Default.Equals(get(hints!), fromWeights))
                conflicts.Add($"{field} is {Show(get(hints!))} in the config but {Show(fromWeights)} in the weights");
            set(config, fromWeights);
        }

        var projection = Need(Embeddings + "patch_embeddings.projection.weight");
        if (projection.shape[^1] != projection.shape[^2])
            throw new InvalidDataException($"{source}: patches of {projection.shape[^2]}x{projection.shape[^1]} pixels are not supported; only square patches are.");
        int hidden = (int)Need(Embeddings + "cls_token").shape[^1];
        Determined("hidden_size", hidden, c => c.HiddenSize, (c, v) => c.HiddenSize = v);
        Determined("num_channels", (int)projection.shape[1], c => c.NumChannels, (c, v) => c.NumChannels = v);
        Determined("patch_size", (int)projection.shape[^1], c => c.PatchSize, (c, v) => c.PatchSize = v);
        int layers = weights.Keys.Select(k => LayerKey().Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value) + 1).DefaultIfEmpty(0).Max();
        if (layers == 0)
            throw new InvalidDataException($"{source}: the checkpoint has no transformer blocks (no 'beit.encoder.layer.N.*' keys).");
        Determined("num_hidden_layers", layers, c => c.NumHiddenLayers, (c, v) => c.NumHiddenLayers = v);
        Determined("intermediate_size", (int)Need(LayerZero + "intermediate.dense.weight").shape[0], c => c.IntermediateSize, (c, v) => c.IntermediateSize = v);
        Determined("use_mask_token", weights.ContainsKey(Embeddings + "mask_token"), c => c.UseMaskToken, (c, v) => c.UseMaskToken = v);
        Determined("use_absolute_position_embeddings", weights.ContainsKey(Embeddings + "position_embeddings"),
            c => c.UseAbsolutePositionEmbeddings, (c, v) => c.UseAbsolutePositionEmbeddings = v);
        Determined("use_relative_position_bias", weights.ContainsKey(PerLayerTable), c => c.UseRelativePositionBias, (c, v) => c.UseRelativePositionBias = v);
        Determined("use_shared_relative_position_bias", weights.ContainsKey(SharedTable),
            c => c.UseSharedRelativePositionBias, (c, v) => c.UseSharedRelativePositionBias = v);
        bool layerScale = weights.ContainsKey(LayerZero + "lambda_1");
        Determined("layer scale (layer_scale_init_value > 0)", layerScale, c => c.LayerScaleInitValue > 0,
            (c, v) => c.LayerScaleInitValue = !v ? 0 : c.LayerScaleInitValue > 0 ? c.LayerScaleInitValue : 0.1);
        // Mean pooling has the pooler's LayerNorm; CLS pooling the backbone's final one. A masked-image-
        // modeling checkpoint may have neither: then the config (or Hugging Face's default, true) decides.
        if (weights.ContainsKey("beit.pooler.layernorm.weight") || weights.ContainsKey("beit.layernorm.weight"))
            Determined("use_mean_pooling", weights.ContainsKey("beit.pooler.layernorm.weight"), c => c.UseMeanPooling, (c, v) => c.UseMeanPooling = v);
        if (weights.TryGetValue("lm_head.weight", out var lmHead))
            Determined("vocab_size", (int)lmHead.shape[0], c => c.VocabSize, (c, v) => c.VocabSize = v);
        if (weights.TryGetValue("classifier.weight", out var classifier))
        {
            int classes = (int)classifier.shape[0];
            Determined("the number of labels (id2label)", classes, c => c.NumLabels, (c, _) => { });
            if (config.NumLabels != classes)
                config.SetLabels(Enumerable.Range(0, classes).Select(i => $"LABEL_{i}").ToList());
        }

        InferSegmentationHeads(weights, config, Determined);

        var unknown = new List<string>();
        var table = weights.GetValueOrDefault(PerLayerTable) ?? weights.GetValueOrDefault(SharedTable);
        int? grid = GridFromWeights(table, weights.GetValueOrDefault(Embeddings + "position_embeddings"), source);
        if (grid is int g)
            Determined("image_size", g * config.PatchSize, c => c.ImageSize, (c, v) => c.ImageSize = v);
        else if (hintSource == ConfigSource.None)
            unknown.Add("the image size (no position embeddings or relative position table to read the patch grid from)");

        if (table is not null)
            Determined("num_attention_heads", (int)table.shape[1], c => c.NumAttentionHeads, (c, v) => c.NumAttentionHeads = v);
        else if (hintSource == ConfigSource.None || hintSource == ConfigSource.Preset && hints!.HiddenSize != hidden)
            unknown.Add($"the number of attention heads (no relative position table to read it from{(hintSource == ConfigSource.Preset ? $", and the preset is {hints!.HiddenSize} wide, not {hidden}" : "")})");

        if (conflicts.Count > 0)
            throw new InvalidDataException($"{source}: the config does not match the weights: {string.Join("; ", conflicts)}.");
        if (unknown.Count > 0)
            throw new InvalidDataException(
                $"{source}: the weights do not determine {string.Join(" or ", unknown)}. " +
                $"Put a config.json beside the checkpoint, pass one (ConfigPath, or --config-path with the tool) or name a preset ({string.Join(", ", BeitConfig.PresetNames)}).");
        config.Validate(source);
        return config;
    }

    // The segmentation heads fix the classes, the number of pool scales and the auxiliary head's shape;
    // the pool scales themselves and out_indices come from the config.
    static void InferSegmentationHeads(IReadOnlyDictionary<string, Tensor> weights, BeitConfig config,
        Action<string, int, Func<BeitConfig, int>, Action<BeitConfig, int>> determined)
    {
        if (!weights.TryGetValue("decode_head.classifier.weight", out var decode)) return;
        int classes = (int)decode.shape[0];
        determined("the number of labels (id2label)", classes, c => c.NumLabels, (c, _) => { });
        if (config.NumLabels != classes)
            config.SetLabels(Enumerable.Range(0, classes).Select(i => $"LABEL_{i}").ToList());
        int scales = weights.Keys.Count(k => k.StartsWith("decode_head.psp_modules.", StringComparison.Ordinal) && k.EndsWith(".1.conv.weight", StringComparison.Ordinal));
        determined("the number of pool_scales", scales, c => c.PoolScales.Count, (c, _) => { });
        bool auxiliary = weights.TryGetValue("auxiliary_head.classifier.weight", out var auxiliaryClassifier);
        determined("use_auxiliary_head (0 = false)", auxiliary ? 1 : 0, c => c.UseAuxiliaryHead ? 1 : 0, (c, v) => c.UseAuxiliaryHead = v == 1);
        if (!auxiliary) return;
        int convs = weights.Keys.Count(k => k.StartsWith("auxiliary_head.convs.", StringComparison.Ordinal) && k.EndsWith(".conv.weight", StringComparison.Ordinal));
        determined("auxiliary_num_convs", convs, c => c.AuxiliaryNumConvs, (c, v) => c.AuxiliaryNumConvs = v);
        determined("auxiliary_channels", (int)auxiliaryClassifier!.shape[1], c => c.AuxiliaryChannels, (c, v) => c.AuxiliaryChannels = v);
        determined("auxiliary_concat_input (0 = false)", weights.ContainsKey("auxiliary_head.conv_cat.conv.weight") ? 1 : 0,
            c => c.AuxiliaryConcatInput ? 1 : 0, (c, v) => c.AuxiliaryConcatInput = v == 1);
    }

    static string Show<T>(T value) => value is bool b ? (b ? "true" : "false") : value?.ToString() ?? "null";

    static int? GridFromWeights(Tensor? table, Tensor? positions, string source)
    {
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
        if (positions is not null)
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
