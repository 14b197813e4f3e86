using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>
/// The one explicit map from the original unilm BEiT parameter names to the Hugging Face names this
/// library's modules use (the mapping of Hugging Face's <c>convert_beit_unilm_to_pytorch.py</c>, plus
/// <c>pos_embed</c> and the CLS-pooling <c>norm</c>). The fused <c>qkv</c> projection is split into
/// query, key and value; the stored <c>relative_position_index</c> buffers are dropped here and
/// checked against the recomputed index by the loader.
/// </summary>
internal static partial class UnilmKeyMap
{
    [GeneratedRegex(@"^blocks\.(\d+)\.(.+)$")]
    private static partial Regex BlockKey();

    static readonly Dictionary<string, string> BlockParts = new()
    {
        ["norm1.weight"] = "layernorm_before.weight",
        ["norm1.bias"] = "layernorm_before.bias",
        ["norm2.weight"] = "layernorm_after.weight",
        ["norm2.bias"] = "layernorm_after.bias",
        ["gamma_1"] = "lambda_1",
        ["gamma_2"] = "lambda_2",
        ["attn.proj.weight"] = "attention.output.dense.weight",
        ["attn.proj.bias"] = "attention.output.dense.bias",
        ["attn.q_bias"] = "attention.attention.query.bias",
        ["attn.v_bias"] = "attention.attention.value.bias",
        ["attn.relative_position_bias_table"] = "attention.attention.relative_position_bias.relative_position_bias_table",
        ["attn.relative_position_index"] = "attention.attention.relative_position_bias.relative_position_index",
        ["mlp.fc1.weight"] = "intermediate.dense.weight",
        ["mlp.fc1.bias"] = "intermediate.dense.bias",
        ["mlp.fc2.weight"] = "output.dense.weight",
        ["mlp.fc2.bias"] = "output.dense.bias",
    };

    static readonly Dictionary<string, string> TopLevel = new()
    {
        ["cls_token"] = "beit.embeddings.cls_token",
        ["mask_token"] = "beit.embeddings.mask_token",
        ["pos_embed"] = "beit.embeddings.position_embeddings",
        ["patch_embed.proj.weight"] = "beit.embeddings.patch_embeddings.projection.weight",
        ["patch_embed.proj.bias"] = "beit.embeddings.patch_embeddings.projection.bias",
        ["rel_pos_bias.relative_position_bias_table"] = "beit.encoder.relative_position_bias.relative_position_bias_table",
        ["rel_pos_bias.relative_position_index"] = "beit.encoder.relative_position_bias.relative_position_index",
        ["fc_norm.weight"] = "beit.pooler.layernorm.weight",
        ["fc_norm.bias"] = "beit.pooler.layernorm.bias",
        ["head.weight"] = "classifier.weight",
        ["head.bias"] = "classifier.bias",
        ["lm_head.weight"] = "lm_head.weight",
        ["lm_head.bias"] = "lm_head.bias",
    };

    /// <summary>Whether the keys are in the unilm layout (<c>blocks.i.attn.qkv.weight</c>, <c>patch_embed.proj.weight</c>, ...).</summary>
    public static bool IsUnilmLayout(IEnumerable<string> keys) =>
        keys.Any(k => k.StartsWith("blocks.", StringComparison.Ordinal) || k.StartsWith("patch_embed.", StringComparison.Ordinal));

    /// <summary>
    /// Renames a unilm state dict to Hugging Face keys. The result owns new tensors only for the split
    /// q/k/v weights; other entries are the input tensors themselves. Keys the map does not know are kept
    /// as they are, so that the loader reports them as unexpected.
    /// </summary>
    public static Dictionary<string, Tensor> ToHuggingFace(IReadOnlyDictionary<string, Tensor> unilm)
    {
        // The final `norm` is the MIM model's LayerNorm when there is an lm_head, else the CLS-pooling norm.
        bool maskedImageModeling = unilm.ContainsKey("lm_head.weight");
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in unilm)
        {
            if (TopLevel.TryGetValue(key, out var mapped))
            {
                result[mapped] = tensor;
            }
            else if (key is "norm.weight" or "norm.bias")
            {
                result[(maskedImageModeling ? "layernorm." : "beit.layernorm.") + key["norm.".Length..]] = tensor;
            }
            else if (BlockKey().Match(key) is { Success: true } block)
            {
                string prefix = $"beit.encoder.layer.{block.Groups[1].Value}.";
                string part = block.Groups[2].Value;
                if (part == "attn.qkv.weight")
                    SplitQkv(tensor, prefix, result, key);
                else if (part == "attn.qkv.bias")
                    SplitQkvBias(tensor, prefix, result, key);
                else
                    result[BlockParts.TryGetValue(part, out var p) ? prefix + p : key] = tensor;
            }
            else
            {
                result[key] = tensor;
            }
        }
        AddZeroBiasesForBiaslessQkv(unilm, result);
        return result;
    }

    static void SplitQkv(Tensor qkv, string prefix, Dictionary<string, Tensor> result, string key)
    {
        if (qkv.dim() != 2 || qkv.shape[0] != 3 * qkv.shape[1])
            throw new InvalidDataException($"'{key}' should be [3*D, D]; it is [{string.Join(", ", qkv.shape)}].");
        var parts = qkv.chunk(3, 0);
        result[prefix + "attention.attention.query.weight"] = parts[0].contiguous();
        result[prefix + "attention.attention.key.weight"] = parts[1].contiguous();
        result[prefix + "attention.attention.value.weight"] = parts[2].contiguous();
        foreach (var p in parts) p.Dispose();
    }

    // Some unilm variants store one fused qkv bias; BEiT's key bias is zero by design, so it must be.
    static void SplitQkvBias(Tensor bias, string prefix, Dictionary<string, Tensor> result, string key)
    {
        var parts = bias.chunk(3, 0);
        using var nonZero = parts[1].count_nonzero();
        if (nonZero.item<long>() != 0)
            throw new InvalidDataException($"'{key}' has a non-zero key bias, which the BEiT architecture does not have.");
        result[prefix + "attention.attention.query.bias"] = parts[0].contiguous();
        result[prefix + "attention.attention.value.bias"] = parts[2].contiguous();
        foreach (var p in parts) p.Dispose();
    }

    // A model built with qkv_bias=False stores neither q_bias nor v_bias: its biases are zero.
    static void AddZeroBiasesForBiaslessQkv(IReadOnlyDictionary<string, Tensor> unilm, Dictionary<string, Tensor> result)
    {
        foreach (var key in unilm.Keys)
        {
            var block = BlockKey().Match(key);
            if (!block.Success || block.Groups[2].Value != "attn.qkv.weight") continue;
            string b = $"blocks.{block.Groups[1].Value}.attn.";
            if (unilm.ContainsKey(b + "q_bias") || unilm.ContainsKey(b + "v_bias") || unilm.ContainsKey(b + "qkv.bias")) continue;
            long width = unilm[key].shape[1];
            string prefix = $"beit.encoder.layer.{block.Groups[1].Value}.attention.attention.";
            result[prefix + "query.bias"] = zeros(width, unilm[key].dtype);
            result[prefix + "value.bias"] = zeros(width, unilm[key].dtype);
        }
    }
}
