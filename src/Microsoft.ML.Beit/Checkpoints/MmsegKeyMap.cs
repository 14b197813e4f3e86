using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>
/// The segmentation checkpoints of unilm's <c>semantic_segmentation</c> code (mmsegmentation): the BEiT backbone under
/// <c>backbone.</c> in unilm names with the necks as <c>backbone.fpn1..4</c>, and mmseg's UperNet and FCN heads under
/// <c>decode_head.</c> and <c>auxiliary_head.</c>. The heads already use Hugging Face's names except the classifier
/// (<c>conv_seg</c>); the backbone then goes through <see cref="UnilmKeyMap"/>. Such checkpoints select the necks'
/// inputs by unilm's out_indices convention (block k's output), which the loader records in the config.
/// </summary>
internal static class MmsegKeyMap
{
    const string Backbone = "backbone.";

    /// <summary>Whether the keys are an mmseg BEiT segmentation checkpoint's.</summary>
    public static bool IsSegmentationLayout(IEnumerable<string> keys)
    {
        bool backbone = false, head = false;
        foreach (var key in keys)
        {
            backbone |= key.StartsWith(Backbone, StringComparison.Ordinal);
            head |= key.StartsWith("decode_head.", StringComparison.Ordinal);
        }
        return backbone && head;
    }

    /// <summary>
    /// The same tensors under unilm backbone names (prefix dropped; the necks stay <c>fpnN.*</c>) and Hugging Face head
    /// names, ready for <see cref="UnilmKeyMap.ToHuggingFace"/>. mmseg's unused final <c>backbone.norm</c>, if any, is dropped.
    /// </summary>
    public static Dictionary<string, Tensor> Unwrap(Dictionary<string, Tensor> weights)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in weights)
        {
            string name = key.StartsWith(Backbone, StringComparison.Ordinal) ? key[Backbone.Length..] : key;
            name = name.Replace("decode_head.conv_seg.", "decode_head.classifier.", StringComparison.Ordinal)
                       .Replace("auxiliary_head.conv_seg.", "auxiliary_head.classifier.", StringComparison.Ordinal);
            if (name is "norm.weight" or "norm.bias")
            {
                tensor.Dispose();
                continue;
            }
            result[name] = tensor;
        }
        return result;
    }
}
