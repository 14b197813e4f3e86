using Microsoft.ML.Beit.Classification;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>The classifier on ONNX Runtime: the exported graph's <c>probabilities</c> output, with the same preprocessing.</summary>
internal sealed class OnnxClassifierEngine : IBeitClassifierEngine
{
    public OnnxClassifierEngine(BeitOnnxSession session, BeitConfig config, BeitPreprocessorConfig preprocessor)
    {
        Session = session;
        Config = config;
        Processor = new BeitImageProcessor(preprocessor);
    }

    /// <summary>Exports the TorchSharp classifier and opens it in ONNX Runtime.</summary>
    public static OnnxClassifierEngine From(BeitClassifierEngine engine, string device, int? threads, BeitOnnxQuantization quantization)
    {
        var graph = BeitOnnxExporter.Build(engine.Model, new BeitOnnxExportOptions { Preprocessor = engine.Processor.Config, Quantization = quantization });
        var session = BeitOnnxSession.FromGraph(graph, device, threads);
        return new OnnxClassifierEngine(session, engine.Config.Clone(), engine.Processor.Config);
    }

    public BeitOnnxSession Session { get; }
    public BeitConfig Config { get; }
    public BeitImageProcessor Processor { get; }
    public string DeviceName => Session.DeviceName;

    public float[][] Probabilities(IReadOnlyList<RgbImage> images) => OnnxRows.Split(
        Session.Run(Processor, images, BeitOnnxExporter.Probabilities), images.Count, Config.NumLabels);

    public void Dispose() => Session.Dispose();
}
