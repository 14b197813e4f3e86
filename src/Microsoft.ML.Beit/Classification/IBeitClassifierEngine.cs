using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Classification;

/// <summary>What the classification transformer scores with: TorchSharp (<see cref="BeitClassifierEngine"/>) or ONNX Runtime (<see cref="Onnx.OnnxClassifierEngine"/>).</summary>
internal interface IBeitClassifierEngine : IDisposable
{
    BeitConfig Config { get; }
    BeitImageProcessor Processor { get; }
    string DeviceName { get; }
    int Classes => Config.NumLabels;
    IReadOnlyList<string> LabelNames => Enumerable.Range(0, Classes).Select(i => Config.Id2Label![i]).ToList();

    /// <summary>Class probabilities (softmax of the logits), one row per image.</summary>
    float[][] Probabilities(IReadOnlyList<RgbImage> images);
}
