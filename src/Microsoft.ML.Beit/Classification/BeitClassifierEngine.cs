using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Classification;

/// <summary>A trained classifier without ML.NET: the model, its preprocessing and class names; images in, probabilities out.</summary>
internal sealed class BeitClassifierEngine : IBeitClassifierEngine
{
    readonly object _forwardGate = new();

    readonly Device _device;

    public BeitClassifierEngine(BeitForImageClassification model, BeitPreprocessorConfig preprocessor, string device)
    {
        Model = model;
        Processor = new BeitImageProcessor(preprocessor);
        DeviceName = device;
        _device = BeitDevice.Resolve(device);
        Model.to(_device);
        Model.eval();
    }

    public BeitForImageClassification Model { get; }
    public BeitImageProcessor Processor { get; }
    public string DeviceName { get; }
    public BeitConfig Config => Model.Config;

    /// <summary>Class probabilities (softmax of the logits), one row per image, from one forward pass.</summary>
    public float[][] Probabilities(IReadOnlyList<RgbImage> images)
    {
        // One forward pass at a time per model: PredictionEngines on several threads share it, and concurrent
        // LibTorch calls on one module crashed the process (see ConcurrencyTests).
        lock (_forwardGate) return ProbabilitiesUnlocked(images);
    }

    float[][] ProbabilitiesUnlocked(IReadOnlyList<RgbImage> images)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Model.eval();
        var pixels = Processor.ProcessBatch(images).to(_device);
        using var output = Model.forward(pixels);
        var probabilities = output.Logits.softmax(-1).to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        return Enumerable.Range(0, images.Count).Select(i => probabilities.AsSpan(i * Config.NumLabels, Config.NumLabels).ToArray()).ToArray();
    }

    public void Dispose() => Model.Dispose();
}
