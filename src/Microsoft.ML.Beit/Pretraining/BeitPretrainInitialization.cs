using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// Builds the masked-image-modeling model pretraining starts from: a new one from a preset or config (shared relative
/// position bias, mask token, layer scale, the tokenizer's vocabulary, unilm's init), a masked-image-modeling checkpoint
/// as it is, or another checkpoint's backbone under a new head.
/// </summary>
internal static class BeitPretrainInitialization
{
    public static BeitForMaskedImageModeling Create(BeitPretrainOptions options, int vocabulary, int seed, Action<string> log)
    {
        manual_seed(seed);
        var generator = new Generator((ulong)seed);
        var source = options.Model!;
        if (source.Path is null)
        {
            var config = source.RandomArchitecture();
            config.UseMaskToken = true;
            if (!config.UseAbsolutePositionEmbeddings)
            {
                config.UseRelativePositionBias = false;
                config.UseSharedRelativePositionBias = true;
            }
            config.LayerScaleInitValue = options.LayerScaleInitValue;
            Prepare(config, options, vocabulary);
            var fresh = new BeitForMaskedImageModeling(config);
            BeitInitializer.Initialize(fresh, config, generator);
            log($"pretraining a new BEiT ({config.NumHiddenLayers} blocks, {config.HiddenSize} wide, {config.PatchGridSize}x{config.PatchGridSize} patches, {vocabulary} visual tokens)");
            return fresh;
        }

        using var checkpoint = source.Load();
        var cloned = checkpoint.Config.Clone();
        cloned.UseMaskToken = true;
        Prepare(cloned, options, vocabulary);
        var model = new BeitForMaskedImageModeling(cloned);
        try
        {
            BeitInitializer.Initialize(model, cloned, generator);
            bool continuing = checkpoint.Architecture == BeitArchitecture.MaskedImageModeling && checkpoint.Config.VocabSize == vocabulary;
            var missing = new List<string>();
            using (no_grad())
                foreach (var (key, target) in model.state_dict())
                {
                    if (!continuing && !key.StartsWith("beit.", StringComparison.Ordinal)) continue;
                    if (checkpoint.Weights.TryGetValue(key, out var weight) && weight.shape.SequenceEqual(target.shape)) target.copy_(weight);
                    else if (key != "beit.embeddings.mask_token") missing.Add(key);
                }
            if (missing.Count > 0) throw new BeitCheckpointMismatchException(checkpoint.Source, missing, [], []);
            log(continuing ? $"continuing pretraining of {checkpoint.Source}" : $"pretraining the backbone of {checkpoint.Source} with a new {vocabulary}-token head");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static void Prepare(BeitConfig config, BeitPretrainOptions options, int vocabulary)
    {
        config.VocabSize = vocabulary;
        config.DropPathRate = options.DropPath!.Value;
        config.Id2Label = null;
        config.Label2Id = null;
        config.Architectures = ["BeitForMaskedImageModeling"];
    }
}
