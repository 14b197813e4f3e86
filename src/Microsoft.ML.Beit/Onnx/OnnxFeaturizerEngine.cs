using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>The featurizer on ONNX Runtime: the exported graph's <c>features</c> output, with the same preprocessing.</summary>
internal sealed class OnnxFeaturizerEngine : IBeitFeaturizerEngine
{
    public OnnxFeaturizerEngine(BeitOnnxSession session, BeitConfig config, BeitArchitecture architecture, BeitPooling pooling, bool normalizeL2,
        BeitPreprocessorConfig preprocessor)
    {
        Session = session;
        Config = config;
        Architecture = architecture;
        Pooling = pooling;
        NormalizeL2 = normalizeL2;
        Processor = new BeitImageProcessor(preprocessor);
        FeatureSize = pooling == BeitPooling.Tokens ? Config.NumPatches * Config.HiddenSize : Config.HiddenSize;
    }

    /// <summary>Exports the TorchSharp featurizer's model with its pooling and opens it in ONNX Runtime.</summary>
    /// <exception cref="NotSupportedException">The featurizer pools an intermediate layer or uses a pooling the exporter lacks.</exception>
    public static OnnxFeaturizerEngine From(BeitFeaturizerEngine engine, string device, int? threads)
    {
        int layers = engine.Config.NumHiddenLayers;
        if (engine.LayerOption != -1 && engine.LayerOption != layers)
            throw new NotSupportedException(
                $"Backend = Onnx: the featurizer pools layer {engine.LayerOption}, but the ONNX export has the last layer only (Layer = -1); use Backend = TorchSharp for intermediate layers.");
        if (engine.Pooling is not (BeitPooling.Mean or BeitPooling.Cls or BeitPooling.Tokens))
            throw new NotSupportedException(
                $"Backend = Onnx: pooling {engine.Pooling} has no ONNX export (Mean, Cls and Tokens do); use Backend = TorchSharp for it.");
        var graph = BeitOnnxExporter.Build(engine.Model, new BeitOnnxExportOptions
        {
            FeaturesOnly = true,
            Pooling = engine.Pooling,
            NormalizeL2 = engine.NormalizeL2,
            Preprocessor = engine.Processor.Config,
        });
        var session = BeitOnnxSession.FromGraph(graph, device, threads);
        return new OnnxFeaturizerEngine(session, engine.Config.Clone(), engine.Architecture, engine.Pooling, engine.NormalizeL2, engine.Processor.Config);
    }

    public BeitOnnxSession Session { get; }
    public BeitConfig Config { get; }
    public BeitArchitecture Architecture { get; }
    public BeitPooling Pooling { get; }
    public int LayerOption => -1;
    public bool NormalizeL2 { get; }
    public string DeviceName => Session.DeviceName;
    public BeitImageProcessor Processor { get; }
    public int FeatureSize { get; }

    public float[][] Featurize(IReadOnlyList<RgbImage> images) => OnnxRows.Split(
        Session.Run(Processor, images, BeitOnnxExporter.Features), images.Count, FeatureSize);

    public void Dispose() => Session.Dispose();
}
