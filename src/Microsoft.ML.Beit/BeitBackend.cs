namespace Microsoft.ML.Beit;

/// <summary>What runs a BEiT transformer's network when it scores.</summary>
public enum BeitBackend
{
    /// <summary>TorchSharp (LibTorch): every feature, CPU or CUDA. Training always uses it.</summary>
    TorchSharp,

    /// <summary>
    /// ONNX Runtime, on the graph <see cref="Onnx.BeitOnnxExporter"/> builds from the model. The model zip then holds the
    /// ONNX file instead of the TorchSharp weights, and loading and scoring it never touches LibTorch: an application that
    /// only scores references <c>Microsoft.ML.OnnxRuntime</c> (CPU) or <c>Microsoft.ML.OnnxRuntime.Gpu</c> (CUDA) and no
    /// LibTorch package. Fitting still needs LibTorch (the model is loaded and exported with it). Supported: featurizers
    /// (every layer and pooling), classifiers and segmenters.
    /// </summary>
    Onnx,
}
