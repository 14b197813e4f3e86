using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// BEiT for semantic segmentation (Hugging Face <c>BeitForSemanticSegmentation</c>, the paper's ADE20K model):
/// the backbone without a pooler; four hidden states chosen by <c>out_indices</c>, turned into maps at 1/4, 1/8,
/// 1/16 and 1/32 of the input by the necks <see cref="fpn1"/>..<see cref="fpn4"/>; the UperNet
/// <see cref="decode_head"/>; and the optional FCN <see cref="auxiliary_head"/> used only for its training loss.
/// </summary>
public sealed class BeitForSemanticSegmentation : nn.Module<Tensor, BeitSemanticSegmenterOutput>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The backbone, without a pooler.</summary>
    public readonly BeitModel beit;
    /// <summary>4x up: ConvTranspose2d(2, 2), BatchNorm, GELU, ConvTranspose2d(2, 2).</summary>
    public readonly Sequential fpn1;
    /// <summary>2x up: ConvTranspose2d(2, 2).</summary>
    public readonly Sequential fpn2;
    /// <summary>The patch grid as it is.</summary>
    public readonly Identity fpn3;
    /// <summary>2x down: max pooling.</summary>
    public readonly MaxPool2d fpn4;
    /// <summary>The UperNet head producing the logits.</summary>
    public readonly BeitUperHead decode_head;
    /// <summary>The FCN head for the auxiliary loss; null without <c>use_auxiliary_head</c>.</summary>
    public readonly BeitFcnHead? auxiliary_head;
#pragma warning restore IDE1006

    /// <summary>Builds the model; the number of classes is the number of labels in <paramref name="config"/>.</summary>
    public BeitForSemanticSegmentation(BeitConfig config) : base(nameof(BeitForSemanticSegmentation))
    {
        if (config.NumLabels < 1)
            throw new ArgumentException("A segmentation model needs labels: set id2label in the config (BeitConfig.SetLabels).", nameof(config));
        ValidateOutIndices(config);
        long d = config.HiddenSize;
        beit = new BeitModel(config, addPoolingLayer: false);
        fpn1 = nn.Sequential(
            ("0", nn.ConvTranspose2d(d, d, 2, stride: 2)),
            ("1", nn.BatchNorm2d(d)),
            ("2", nn.GELU()),
            ("3", nn.ConvTranspose2d(d, d, 2, stride: 2)));
        fpn2 = nn.Sequential(("0", nn.ConvTranspose2d(d, d, 2, stride: 2)));
        fpn3 = nn.Identity();
        fpn4 = nn.MaxPool2d(2, 2);
        decode_head = new BeitUperHead(config);
        if (config.UseAuxiliaryHead)
            auxiliary_head = new BeitFcnHead(config);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public BeitConfig Config => beit.Config;

    /// <inheritdoc/>
    public override BeitSemanticSegmenterOutput forward(Tensor pixelValues) => forward(pixelValues, withAuxiliary: false);

    /// <summary>
    /// Logits at a quarter of the input's resolution, [B, classes, H/4, W/4] (not upsampled, as Hugging Face
    /// returns them); with <paramref name="withAuxiliary"/> also the FCN head's logits at 1/16; with
    /// <paramref name="keepFeatures"/> also the backbone's hidden states and the four neck outputs.
    /// </summary>
    public BeitSemanticSegmenterOutput forward(Tensor pixelValues, bool withAuxiliary, bool keepFeatures = false)
    {
        using var scope = NewDisposeScope();
        var backbone = beit.forward(pixelValues, null, outputHiddenStates: true);
        var features = SelectHiddenStates(backbone.HiddenStates!)
            .Select(ToFeatureMap)
            .Select((map, i) => Necks[i].forward(map))
            .ToList();
        var logits = decode_head.forward(features);
        var auxiliary = withAuxiliary ? auxiliary_head?.forward(features) : null;
        var output = new BeitSemanticSegmenterOutput(logits, auxiliary, keepFeatures ? features : null, keepFeatures ? backbone : null);
        output.MoveToOuterDisposeScope();
        return output;
    }

    /// <summary>
    /// The training loss: cross-entropy of the logits bilinearly upsampled to the labels' size, ignoring
    /// <c>semantic_loss_ignore_index</c>, plus <c>auxiliary_loss_weight</c> times the same for the auxiliary logits.
    /// </summary>
    /// <param name="output">The model's output, with auxiliary logits when the model has that head.</param>
    /// <param name="labels">[B, H, W] class ids (int64).</param>
    /// <param name="labelSmoothing">Label smoothing of both terms (0 in the paper's recipe).</param>
    /// <param name="classWeights">Per-class weights of both terms ([classes], on the logits' device); null weighs every pixel the same.</param>
    public BeitSegmentationLoss Loss(BeitSemanticSegmenterOutput output, Tensor labels, double labelSmoothing = 0, Tensor? classWeights = null)
    {
        using var scope = NewDisposeScope();
        var size = new[] { labels.shape[^2], labels.shape[^1] };
        Tensor Term(Tensor logits) => nn.functional.cross_entropy(SegmentationResize.Bilinear(logits, size), labels, classWeights,
            ignore_index: Config.SemanticLossIgnoreIndex, label_smoothing: labelSmoothing);
        var main = Term(output.Logits);
        var auxiliary = output.AuxiliaryLogits is { } a ? Term(a) : null;
        var total = auxiliary is null ? main : ScalarOps.Blend(auxiliary, Config.AuxiliaryLossWeight, main, 1.0);
        var loss = new BeitSegmentationLoss(total, main, auxiliary);
        loss.MoveToOuterDisposeScope();
        return loss;
    }

    IReadOnlyList<nn.Module<Tensor, Tensor>> Necks => [fpn1, fpn2, fpn3, fpn4];

    /// <summary>
    /// The hidden states that feed the necks. Hugging Face: <c>hidden_states[k - 1]</c> for each k in
    /// <c>out_indices</c>; unilm/mmseg: the output of block k, <c>hidden_states[k + 1]</c>.
    /// </summary>
    IEnumerable<Tensor> SelectHiddenStates(IReadOnlyList<Tensor> hiddenStates) =>
        Config.OutIndices.Order().Select(k => hiddenStates[Config.UsesUnilmOutIndices ? k + 1 : k - 1]);

    // [B, 1 + N, D] tokens to a [B, D, G, G] map (row-major patches, CLS dropped).
    Tensor ToFeatureMap(Tensor tokens)
    {
        long g = Config.PatchGridSize;
        return tokens.narrow(1, 1, tokens.shape[1] - 1).permute(0, 2, 1).reshape(tokens.shape[0], -1, g, g);
    }

    static void ValidateOutIndices(BeitConfig config)
    {
        if (config.OutIndices.Count != 4)
            throw new ArgumentException($"out_indices must list 4 layers (one per neck), not {config.OutIndices.Count}: [{string.Join(", ", config.OutIndices)}].", nameof(config));
        int low = config.UsesUnilmOutIndices ? 0 : 1, high = config.UsesUnilmOutIndices ? config.NumHiddenLayers - 1 : config.NumHiddenLayers + 1;
        var bad = config.OutIndices.Where(k => k < low || k > high).ToList();
        if (bad.Count > 0 || config.OutIndices.Distinct().Count() != 4)
            throw new ArgumentException(
                $"out_indices [{string.Join(", ", config.OutIndices)}] must be 4 distinct values in {low}..{high} for {config.NumHiddenLayers} layers " +
                $"({(config.UsesUnilmOutIndices ? "unilm convention: block k's output" : "Hugging Face convention: hidden_states[k - 1]")}).", nameof(config));
    }
}
