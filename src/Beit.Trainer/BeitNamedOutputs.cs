using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Beit.Trainer;

/// <summary>
/// Runs any BEiT model of this library and names every output it can produce the way the reference
/// data of the original implementation does: <c>logits</c>, <c>pooled</c>, <c>hidden_states_N</c>,
/// <c>logits_masked</c>, <c>logits_all_tokens</c>, <c>final_hidden_states</c>; for segmentation <c>features_N</c>,
/// <c>decode_psp_bottleneck</c>, <c>decode_fpn_bottleneck</c>, <c>auxiliary_logits</c>, <c>upsampled_scores</c>,
/// <c>segmentation_map</c> and, given labels, <c>loss</c>, <c>main_loss</c>, <c>auxiliary_loss</c>. This is what
/// <c>beit forward</c> writes, for checking a conversion against PyTorch; the parity tests compile this file too.
/// </summary>
internal static class BeitNamedOutputs
{
    /// <summary>
    /// Runs <paramref name="model"/> in evaluation mode (restoring its mode after) without gradients on <paramref name="pixelValues"/>
    /// ([B, C, H, W]) and, for masked image modeling, <paramref name="boolMaskedPos"/> ([B, N]); for segmentation,
    /// <paramref name="labels"/> ([B, H, W] class ids) adds the losses.
    /// The tensors are on the CPU; the caller disposes them.
    /// </summary>
    public static Dictionary<string, Tensor> Compute(nn.Module model, Tensor pixelValues, Tensor? boolMaskedPos = null, Tensor? labels = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool wasTraining = model.training;
        model.eval();
        var parameter = model.parameters().First();
        var pixels = pixelValues.to(parameter.dtype, parameter.device);
        var mask = boolMaskedPos?.to(ScalarType.Bool, parameter.device);
        var outputs = new Dictionary<string, Tensor>();

        void AddHiddenStates(BeitModelOutput backbone)
        {
            for (int i = 0; i < backbone.HiddenStates!.Count; i++)
                outputs[$"hidden_states_{i}"] = backbone.HiddenStates[i];
        }

        switch (model)
        {
            case BeitForImageClassification classifier:
            {
                var result = classifier.forward(pixels, outputHiddenStates: true, outputAttentions: false);
                outputs["logits"] = result.Logits;
                outputs["pooled"] = result.Backbone.PoolerOutput!;
                AddHiddenStates(result.Backbone);
                break;
            }
            case BeitForMaskedImageModeling mim:
            {
                // The hidden states come from a second backbone pass; this tool favours clarity over speed.
                AddHiddenStates(mim.beit.forward(pixels, mask, outputHiddenStates: true));
                var result = mim.forward(pixels, mask);
                outputs["logits_all_tokens"] = result.Logits;
                outputs["final_hidden_states"] = result.FinalHiddenStates;
                if (mask is not null)
                    outputs["logits_masked"] = result.MaskedLogits(mask);
                break;
            }
            case BeitForSemanticSegmentation segmenter:
            {
                var result = segmenter.forward(pixels, withAuxiliary: true, keepFeatures: true);
                AddHiddenStates(result.Backbone!);
                for (int i = 0; i < result.Features!.Count; i++)
                    outputs[$"features_{i}"] = result.Features[i];
                outputs["decode_psp_bottleneck"] = segmenter.decode_head.PspForward(result.Features[3]);
                outputs["decode_fpn_bottleneck"] = segmenter.decode_head.Fuse(result.Features);
                outputs["logits"] = result.Logits;
                if (result.AuxiliaryLogits is { } auxiliary) outputs["auxiliary_logits"] = auxiliary;
                // Bilinear with align_corners false, as the library's scoring upsamples (a no-op at the input's size).
                var scores = result.Logits.shape[2] == pixels.shape[2] && result.Logits.shape[3] == pixels.shape[3] ? result.Logits.alias()
                    : nn.functional.interpolate(result.Logits, [pixels.shape[2], pixels.shape[3]], mode: InterpolationMode.Bilinear, align_corners: false);
                outputs["upsampled_scores"] = scores;
                outputs["segmentation_map"] = scores.argmax(1);
                if (labels is not null)
                {
                    var loss = segmenter.Loss(result, labels.to(ScalarType.Int64, parameter.device));
                    outputs["loss"] = loss.Total.reshape(1);
                    outputs["main_loss"] = loss.Main.reshape(1);
                    if (loss.Auxiliary is { } a) outputs["auxiliary_loss"] = a.reshape(1);
                }
                break;
            }
            case BeitModel backboneModel:
            {
                var backbone = backboneModel.forward(pixels, mask, outputHiddenStates: true);
                if (backbone.PoolerOutput is not null) outputs["pooled"] = backbone.PoolerOutput;
                outputs["last_hidden_state"] = backbone.LastHiddenState;
                AddHiddenStates(backbone);
                break;
            }
            default:
                throw new ArgumentException($"{model.GetType().Name} is not a BEiT model of this library.", nameof(model));
        }
        if (wasTraining) model.train();
        var named = outputs.ToDictionary(p => p.Key, p => p.Value.cpu().contiguous().clone());
        foreach (var t in named.Values) t.MoveToOuterDisposeScope();
        return named;
    }
}
