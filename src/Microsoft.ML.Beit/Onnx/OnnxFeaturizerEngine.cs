using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>The featurizer on ONNX Runtime: the exported graph's <c>features</c> output, with the same preprocessing.</summary>
internal sealed class OnnxFeaturizerEngine : IBeitFeaturizerEngine
{
    public OnnxFeaturizerEngine(BeitOnnxSession session, BeitConfig config, BeitArchitecture architecture, BeitPooling pooling, int layer, bool normalizeL2,
        BeitPreprocessorConfig preprocessor)
    {
        LayerOption = layer;
        Session = session;
        Config = config;
        Architecture = architecture;
        Pooling = pooling;
        NormalizeL2 = normalizeL2;
        Processor = new BeitImageProcessor(preprocessor);
        FeatureSize = pooling switch
        {
            BeitPooling.Tokens => Config.NumPatches * Config.HiddenSize,
            BeitPooling.ClsAttention => Config.NumAttentionHeads * Config.NumPatches,
            _ => Config.HiddenSize,
        };
    }

    /// <summary>Exports the TorchSharp featurizer's model with its layer and pooling and opens it in ONNX Runtime.</summary>
    public static OnnxFeaturizerEngine From(BeitFeaturizerEngine engine, string device, int? threads, BeitOnnxQuantization quantization)
    {
        var graph = BeitOnnxExporter.Build(engine.Model, new BeitOnnxExportOptions
        {
            FeaturesOnly = true,
            Pooling = engine.Pooling,
            Layer = engine.LayerOption,
            NormalizeL2 = engine.NormalizeL2,
            Preprocessor = engine.Processor.Config,
            Quantization = quantization,
        });
        var session = BeitOnnxSession.FromGraph(graph, device, threads);
        return new OnnxFeaturizerEngine(session, engine.Config.Clone(), engine.Architecture, engine.Pooling, engine.LayerOption, engine.NormalizeL2,
            engine.Processor.Config);
    }

    public BeitOnnxSession Session { get; }
    public BeitConfig Config { get; }
    public BeitArchitecture Architecture { get; }
    public BeitPooling Pooling { get; }
    public int LayerOption { get; }
    public bool NormalizeL2 { get; }
    public string DeviceName => Session.DeviceName;
    public BeitImageProcessor Processor { get; }
    public int FeatureSize { get; }

    public float[][] Featurize(IReadOnlyList<RgbImage> images) => OnnxRows.Split(
        Session.Run(Processor, images, BeitOnnxExporter.Features), images.Count, FeatureSize);

    public void Dispose() => Session.Dispose();
}
