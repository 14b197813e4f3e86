using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Classification;

/// <summary>
/// Builds the classifier fine-tuning starts from, as unilm does: the backbone's weights from the checkpoint, a
/// shared relative position table copied into every block (fine-tuned BEiT models have one per block), mean
/// pooling with a fresh LayerNorm unless the checkpoint brings a pooler, and a new head scaled by HeadInitScale
/// unless the checkpoint is a classifier with the same classes (continued training).
/// </summary>
internal static class BeitClassifierInitialization
{
    const string SharedTable = "beit.encoder.relative_position_bias.relative_position_bias_table";

    /// <summary>
    /// The classifier training starts from: <paramref name="architecture"/> with random weights when
    /// <paramref name="checkpoint"/> is null (the recipe sized it), else the checkpoint's weights. <paramref name="options"/>
    /// is the trainer's copy with the recipe filled in.
    /// </summary>
    public static BeitForImageClassification Create(BeitFinetuneOptions options, BeitCheckpoint? checkpoint, BeitConfig architecture,
        IReadOnlyList<string> labels, int seed, Action<string> log)
    {
        // Module constructors draw default initialisations (the patch convolution keeps its own) from the
        // global generator: seed it too, so the same seed gives the same starting model.
        manual_seed(seed);
        var generator = new Generator((ulong)seed);
        if (checkpoint is null)
        {
            var fromScratch = NewClassifier(architecture.Clone(), labels, options);
            BeitInitializer.Initialize(fromScratch, fromScratch.Config, generator);
            ScaleHead(fromScratch, options.HeadInitScale!.Value);
            log($"starting from a random BEiT ({fromScratch.Config.NumHiddenLayers} blocks, {fromScratch.Config.HiddenSize} wide, {fromScratch.Config.PatchGridSize}x{fromScratch.Config.PatchGridSize} patches)");
            return fromScratch;
        }

        var model = NewClassifier(checkpoint.Config.Clone(), labels, options);
        try
        {
            BeitInitializer.Initialize(model, model.Config, generator);
            ScaleHead(model, options.HeadInitScale!.Value);
            CopyWeights(checkpoint, model, labels, log);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static BeitForImageClassification NewClassifier(BeitConfig config, IReadOnlyList<string> labels, BeitFinetuneOptions options)
    {
        if (config.UseSharedRelativePositionBias)
        {
            config.UseSharedRelativePositionBias = false;
            config.UseRelativePositionBias = true;
        }
        config.DropPathRate = options.DropPath!.Value;
        config.SetLabels(labels);
        config.Architectures = ["BeitForImageClassification"];
        return new BeitForImageClassification(config);
    }

    static void ScaleHead(BeitForImageClassification model, double scale)
    {
        using var noGrad = no_grad();
        model.classifier.weight!.mul_(scale);
        model.classifier.bias!.zero_();
    }

    static void CopyWeights(BeitCheckpoint checkpoint, BeitForImageClassification model, IReadOnlyList<string> labels, Action<string> log)
    {
        var source = checkpoint.Weights;
        var targets = model.state_dict();
        var missing = new List<string>();
        bool sameClasses = checkpoint.Architecture == BeitArchitecture.ImageClassification
            && checkpoint.Config.NumLabels == labels.Count
            && Enumerable.Range(0, labels.Count).All(i => checkpoint.Config.Id2Label![i] == labels[i]);
        using var noGrad = no_grad();
        foreach (var (key, target) in targets)
        {
            if (source.TryGetValue(key, out var weight) && weight.shape.SequenceEqual(target.shape))
            {
                if (key.StartsWith("classifier.", StringComparison.Ordinal) && !sameClasses) continue;
                target.copy_(weight);
            }
            else if (key.EndsWith("relative_position_bias_table", StringComparison.Ordinal) && source.TryGetValue(SharedTable, out var shared))
                target.copy_(shared);
            else if (!key.StartsWith("classifier.", StringComparison.Ordinal) && !key.StartsWith("beit.pooler.", StringComparison.Ordinal))
                missing.Add(key);
        }
        if (missing.Count > 0)
            throw new BeitCheckpointMismatchException(checkpoint.Source, missing, [], []);
        log(sameClasses
            ? $"continuing training of the classifier in {checkpoint.Source}"
            : $"starting from the {checkpoint.Architecture} weights of {checkpoint.Source} with a new {labels.Count}-class head" +
              (source.ContainsKey("beit.pooler.layernorm.weight") ? "" : " and a new pooler LayerNorm"));
    }
}
