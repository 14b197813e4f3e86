using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Featurization;

/// <summary>
/// The featurizer without ML.NET: a loaded model, its preprocessing and the pooling choice. Turns a
/// batch of images into one vector each with a single forward pass.
/// </summary>
internal sealed class BeitFeaturizerEngine : IBeitFeaturizerEngine
{
    readonly object _forwardGate = new();

    readonly nn.Module _model;
    readonly BeitModel _backbone;
    readonly LayerNorm? _maskedImageModelingNorm;
    readonly Device _device;
    readonly int _layer;

    public BeitFeaturizerEngine(BeitCheckpoint checkpoint, BeitPooling pooling, int layer, bool normalizeL2,
        BeitPreprocessorConfig preprocessor, string device)
    {
        Config = checkpoint.Config;
        Architecture = checkpoint.Architecture;
        Pooling = pooling;
        NormalizeL2 = normalizeL2;
        var spec = FeatureSpec.Of(Config, pooling, layer, nameof(layer));
        _layer = spec.Layer;
        FeatureSize = spec.FeatureSize;
        LayerOption = layer;
        if (preprocessor.OutputSize is not { } size || size.Height != Config.ImageSize || size.Width != Config.ImageSize)
            throw new ArgumentException(
                $"The preprocessing gives {(preprocessor.OutputSize is { } s ? $"{s.Height}x{s.Width}" : "variable-size")} images but the model takes " +
                $"{Config.ImageSize}x{Config.ImageSize}; set the resize (and crop) size to {Config.ImageSize}.");
        Processor = new BeitImageProcessor(preprocessor);
        _device = BeitDevice.Resolve(device);

        _model = checkpoint.CreateModel();
        (_backbone, _maskedImageModelingNorm) = _model switch
        {
            BeitForImageClassification c => (c.beit, (LayerNorm?)null),
            BeitForMaskedImageModeling m => (m.beit, m.layernorm),
            BeitModel b => (b, null),
            _ => throw new InvalidOperationException("unreachable"),
        };
        DeviceName = device;
        _model.to(_device);
        _model.eval();
    }

    public BeitConfig Config { get; }
    public BeitArchitecture Architecture { get; }
    public BeitPooling Pooling { get; }
    public bool NormalizeL2 { get; }
    public int LayerOption { get; }
    public string DeviceName { get; }
    public BeitImageProcessor Processor { get; }
    public int FeatureSize { get; }

    /// <summary>The loaded model (for saving its weights).</summary>
    public nn.Module Model => _model;

    /// <summary>One feature vector per image, computed in one forward pass.</summary>
    public float[][] Featurize(IReadOnlyList<RgbImage> images)
    {
        // One forward pass at a time per model: PredictionEngines on several threads share it, and concurrent
        // LibTorch calls on one module crashed the process (see ConcurrencyTests).
        lock (_forwardGate) return FeaturizeUnlocked(images);
    }

    float[][] FeaturizeUnlocked(IReadOnlyList<RgbImage> images)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var pixels = Processor.ProcessBatch(images).to(_device);
        var features = Pool(pixels).to(ScalarType.Float32).cpu().contiguous();
        var flat = features.data<float>().ToArray();
        var result = new float[images.Count][];
        for (int i = 0; i < images.Count; i++)
            result[i] = flat.AsSpan(i * FeatureSize, FeatureSize).ToArray();
        return result;
    }

    Tensor Pool(Tensor pixels)
    {
        if (Pooling == BeitPooling.ClsAttention)
        {
            // Attention probabilities take the explicit softmax path; hidden state k is block k's output, so block k's attention is entry k - 1.
            var attended = _backbone.forward(pixels, null, outputHiddenStates: false, outputAttentions: true);
            var probabilities = attended.Attentions![_layer - 1];
            return probabilities.select(2, 0).narrow(2, 1, probabilities.shape[3] - 1).flatten(1);
        }
        bool last = _layer == Config.NumHiddenLayers;
        var output = _backbone.forward(pixels, null, outputHiddenStates: !last);
        // At the last layer the tokens carry the model's final LayerNorm (the backbone's for CLS-pooling
        // models, the masked-image-modeling head's for pt22k checkpoints); earlier layers are raw.
        var tokens = last ? output.LastHiddenState : output.HiddenStates![_layer];
        var patches = tokens.narrow(1, 1, tokens.shape[1] - 1);
        Tensor features = Pooling switch
        {
            BeitPooling.Mean when last && output.PoolerOutput is not null && Config.UseMeanPooling => output.PoolerOutput,
            BeitPooling.Mean when last && _maskedImageModelingNorm is not null => _maskedImageModelingNorm.forward(patches.mean([1])),
            BeitPooling.Mean => patches.mean([1]),
            BeitPooling.Cls => FinalNorm(tokens.select(1, 0), last),
            _ => FinalNorm(patches, last).flatten(1),
        };
        return NormalizeL2 ? nn.functional.normalize(features, p: 2, dim: 1) : features;
    }

    Tensor FinalNorm(Tensor tokens, bool last) =>
        last && _maskedImageModelingNorm is not null ? _maskedImageModelingNorm.forward(tokens) : tokens;

    public void Dispose() => _model.Dispose();
}
