using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// Builds the model segmentation training starts from: a random model from a preset or config, or a checkpoint's
/// backbone (a shared relative position table copied into every block) with new necks and heads, or a segmentation
/// checkpoint with the same classes as it is (continued training).
/// </summary>
internal static class BeitSegmentationInitialization
{
    const string SharedTable = "beit.encoder.relative_position_bias.relative_position_bias_table";

    /// <summary>
    /// The model training starts from: <paramref name="architecture"/> with random weights when <paramref name="checkpoint"/>
    /// is null (the recipe sized it), else the checkpoint's weights. <paramref name="options"/> is the trainer's copy with the
    /// recipe filled in.
    /// </summary>
    public static BeitForSemanticSegmentation Create(BeitSegmentationOptions options, BeitCheckpoint? checkpoint, BeitConfig architecture, int seed, Action<string> log)
    {
        // Module constructors draw their default initialisations from the global generator: seed it as well.
        manual_seed(seed);
        var generator = new Generator((ulong)seed);
        if (checkpoint is null)
        {
            var config = Prepare(architecture.Clone(), options, classNames: options.ClassNames, keepHeads: false);
            var fresh = new BeitForSemanticSegmentation(config);
            InitializeNew(fresh, generator);
            log($"starting from a random BEiT ({config.NumHiddenLayers} blocks, {config.HiddenSize} wide, {config.PatchGridSize}x{config.PatchGridSize} patches, out_indices [{string.Join(", ", config.OutIndices)}])");
            return fresh;
        }

        if (options.CropSize is int crop && crop != checkpoint.Config.ImageSize)
            throw new ArgumentException(
                $"CropSize {crop} differs from the checkpoint's image size {checkpoint.Config.ImageSize}; resizing its relative position tables is not supported yet. " +
                $"Use CropSize = {checkpoint.Config.ImageSize} (images of any size are still scaled and cropped to it).", nameof(options));
        var names = options.ClassNames ?? (checkpoint.Architecture == BeitArchitecture.SemanticSegmentation
            ? Enumerable.Range(0, checkpoint.Config.NumLabels).Select(i => checkpoint.Config.Id2Label![i]).ToList()
            : throw new ArgumentException("BeitSegmentationOptions.ClassNames is required when the starting model is not a segmentation model.", nameof(options)));
        bool continuing = checkpoint.Architecture == BeitArchitecture.SemanticSegmentation
            && checkpoint.Config.NumLabels == names.Count
            && Enumerable.Range(0, names.Count).All(i => checkpoint.Config.Id2Label![i] == names[i])
            && options.OutIndices is null;
        var model = new BeitForSemanticSegmentation(Prepare(checkpoint.Config.Clone(), options, names, keepHeads: continuing));
        try
        {
            InitializeNew(model, generator);
            CopyWeights(checkpoint, model, continuing);
            log(continuing
                ? $"continuing training of the segmentation model in {checkpoint.Source}"
                : $"starting from the backbone of {checkpoint.Source} ({checkpoint.Architecture}) with new necks and heads for {names.Count} classes");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static BeitConfig Prepare(BeitConfig config, BeitSegmentationOptions options, IReadOnlyList<string>? classNames, bool keepHeads)
    {
        if (classNames is null)
            throw new ArgumentException("BeitSegmentationOptions.ClassNames is required for a new segmentation model.", nameof(options));
        if (options.CropSize is int crop) config.ImageSize = crop;
        if (config.UseSharedRelativePositionBias)
        {
            config.UseSharedRelativePositionBias = false;
            config.UseRelativePositionBias = true;
        }
        config.DropPathRate = options.DropPath!.Value;
        config.SemanticLossIgnoreIndex = options.IgnoreIndex;
        config.SetLabels(classNames);
        config.Architectures = ["BeitForSemanticSegmentation"];
        if (!keepHeads)
        {
            config.UseAuxiliaryHead = options.AuxiliaryHead;
            config.AuxiliaryChannels = Math.Min(config.AuxiliaryChannels, config.HiddenSize);
            if (options.OutIndices is { } chosen)
            {
                config.OutIndices = [.. chosen];
                config.OutIndicesConvention = null;
            }
            else if (!ValidHuggingFaceIndices(config))
            {
                config.OutIndices = EvenlySpread(config.NumHiddenLayers);
                config.OutIndicesConvention = null;
            }
        }
        return config;
    }

    static bool ValidHuggingFaceIndices(BeitConfig config) =>
        config.OutIndices.Count == 4 && config.OutIndices.Distinct().Count() == 4 && (config.UsesUnilmOutIndices
            ? config.OutIndices.All(k => k >= 0 && k < config.NumHiddenLayers)
            : config.OutIndices.All(k => k >= 1 && k <= config.NumHiddenLayers + 1));

    /// <summary>Four distinct Hugging Face out_indices spread over 1..L+1 (for 12 layers: 3, 7, 10, 13).</summary>
    static List<int> EvenlySpread(int layers)
    {
        if (layers < 3)
            throw new ArgumentException($"A segmentation model needs at least 3 layers to feed 4 distinct hidden states to its necks; the model has {layers}.");
        return Enumerable.Range(1, 4).Select(i => (int)Math.Floor(i * (layers + 1) / 4.0 + 0.5)).ToList();
    }

    // BEiT's own init for the backbone; mmseg's normal(0.01) for the two classifiers (the convolutions keep PyTorch's default).
    static void InitializeNew(BeitForSemanticSegmentation model, Generator generator)
    {
        BeitInitializer.Initialize(model, model.Config, generator);
        using var noGrad = no_grad();
        foreach (var classifier in new[] { model.decode_head.classifier, model.auxiliary_head?.classifier })
        {
            if (classifier is null) continue;
            classifier.weight!.normal_(0, 0.01, generator);
            classifier.bias!.zero_();
        }
    }

    static void CopyWeights(BeitCheckpoint checkpoint, BeitForSemanticSegmentation model, bool continuing)
    {
        var source = checkpoint.Weights;
        var missing = new List<string>();
        using var noGrad = no_grad();
        foreach (var (key, target) in model.state_dict())
        {
            bool backbone = key.StartsWith("beit.", StringComparison.Ordinal);
            if (!backbone && !continuing) continue;
            if (source.TryGetValue(key, out var weight) && weight.shape.SequenceEqual(target.shape))
                target.copy_(weight);
            else if (key.EndsWith("relative_position_bias_table", StringComparison.Ordinal) && source.TryGetValue(SharedTable, out var shared)
                     && shared.shape.SequenceEqual(target.shape))
                target.copy_(shared);
            else if (!key.StartsWith("beit.pooler.", StringComparison.Ordinal) && !key.StartsWith("beit.layernorm.", StringComparison.Ordinal))
                missing.Add(key);   // the final LayerNorm and the pooler are not used by segmentation
        }
        if (missing.Count > 0)
            throw new BeitCheckpointMismatchException(checkpoint.Source, missing, [], []);
    }
}
