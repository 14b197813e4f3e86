using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>What the segmentation transformer scores with: TorchSharp (<see cref="BeitSegmentationEngine"/>) or ONNX Runtime (<see cref="Onnx.OnnxSegmentationEngine"/>).</summary>
internal interface IBeitSegmentationEngine : IDisposable
{
    BeitConfig Config { get; }
    BeitImageProcessor Processor { get; }
    int CropSize { get; }
    string DeviceName { get; }
    int BatchSize { get; }
    int Classes => Config.NumLabels;
    IReadOnlyList<string> ClassNames => Enumerable.Range(0, Classes).Select(i => Config.Id2Label![i]).ToList();

    /// <summary>Masks (and probabilities on request) at each image's own size, by mmseg's sliding windows.</summary>
    IReadOnlyList<SegmentationPrediction> Predict(IReadOnlyList<RgbImage> images, bool withProbabilities = false);
}
