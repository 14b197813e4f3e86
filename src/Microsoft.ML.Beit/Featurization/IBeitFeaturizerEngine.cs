using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Featurization;

/// <summary>What the featurizer transformer scores with: TorchSharp (<see cref="BeitFeaturizerEngine"/>) or ONNX Runtime (<see cref="Onnx.OnnxFeaturizerEngine"/>).</summary>
internal interface IBeitFeaturizerEngine : IDisposable
{
    BeitConfig Config { get; }
    BeitArchitecture Architecture { get; }
    BeitPooling Pooling { get; }
    int LayerOption { get; }
    bool NormalizeL2 { get; }
    string DeviceName { get; }
    BeitImageProcessor Processor { get; }
    int FeatureSize { get; }

    /// <summary>One feature vector per image.</summary>
    float[][] Featurize(IReadOnlyList<RgbImage> images);
}
