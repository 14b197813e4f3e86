using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(Microsoft.ML.Beit.BeitFeaturizerTransformer), null, typeof(SignatureLoadModel),
    "BEiT featurizer", Microsoft.ML.Beit.BeitFeaturizerTransformer.LoaderSignature)]

namespace Microsoft.ML.Beit;

/// <summary>
/// The fitted BEiT featurizer: adds a float vector column of image features. It scores in batches
/// (reading rows ahead), serves <c>PredictionEngine</c> one row at a time, and saves into the ML.NET
/// model zip with its options, config, preprocessing and weights.
/// </summary>
public sealed class BeitFeaturizerTransformer : BeitImageTransformer
{
    internal const string LoaderSignature = "BeitFeaturizeTransform";

    readonly IReadOnlyList<ScoredColumn> _outputColumns;

    internal BeitFeaturizerTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, BeitFeaturizerEngine engine,
        int batchSize, BeitInvalidImageHandling invalidImage, int? threads)
        : base(env, nameof(BeitFeaturizerTransformer), inputColumnName, batchSize, invalidImage)
    {
        OutputColumnName = outputColumnName;
        Engine = engine;
        Threads = threads;
        _outputColumns = [ScoredColumn.Vector(outputColumnName, engine.FeatureSize)];
    }

    /// <summary>The column of feature vectors this transformer adds.</summary>
    public string OutputColumnName { get; }

    /// <summary>Length of each feature vector.</summary>
    public int FeatureSize => Engine.FeatureSize;

    /// <summary>The architecture of the model.</summary>
    public BeitConfig ModelConfig => Engine.Config;

    /// <summary>The preprocessing applied to each image.</summary>
    public BeitPreprocessorConfig Preprocessor => Engine.Processor.Config;

    internal int? Threads { get; }
    internal BeitFeaturizerEngine Engine { get; }

    private protected override int RowSize => FeatureSize;
    private protected override IReadOnlyList<ScoredColumn> OutputColumns => _outputColumns;
    private protected override float[][] Score(IReadOnlyList<RgbImage> images) => Engine.Featurize(images);
    private protected override TorchSharp.torch.nn.Module Model => Engine.Model;

    /// <summary>Frees the model's native memory.</summary>
    public override void Dispose() => Engine.Dispose();

    static VersionInfo GetVersionInfo() => new(
        modelSignature: "BEITFEAT",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(BeitFeaturizerTransformer).Assembly.FullName);

    private protected override void Save(ModelSaveContext ctx)
    {
        var (config, architecture) = BeitCheckpoint.Describe(Engine.Model);
        var settings = new JsonObject
        {
            ["output_column"] = OutputColumnName,
            ["input_column"] = InputColumnName,
            ["pooling"] = Engine.Pooling.ToString(),
            ["layer"] = Engine.LayerOption,
            ["normalize_l2"] = Engine.NormalizeL2,
            ["batch_size"] = BatchSize,
            ["device"] = Engine.DeviceName,
            ["threads"] = Threads,
            ["invalid_image"] = InvalidImage.ToString(),
            ["architecture"] = architecture.ToString(),
            ["config"] = config.ToJsonObject(),
            ["preprocessor"] = JsonNode.Parse(Preprocessor.ToJson()),
        };
        SaveModel(ctx, GetVersionInfo(), settings);
    }

    // Called by ML.NET's model loader (found through the LoadableClass attribute above).
    static BeitFeaturizerTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var settings = LoadSettings(ctx, GetVersionInfo());
        var config = BeitConfig.FromJson(settings["config"]!.ToJsonString(), "the model zip's BEiT config");
        var architecture = Enum.Parse<BeitArchitecture>(settings["architecture"]!.GetValue<string>());
        var weights = LoadWeights(ctx);
        using var checkpoint = BeitCheckpoint.FromWeights("the model zip", config, architecture, weights);
        int? threads = settings["threads"]?.GetValue<int>();
        var engine = new BeitFeaturizerEngine(checkpoint,
            Enum.Parse<BeitPooling>(settings["pooling"]!.GetValue<string>()),
            settings["layer"]!.GetValue<int>(),
            settings["normalize_l2"]!.GetValue<bool>(),
            BeitPreprocessorConfig.FromJson(settings["preprocessor"]!.ToJsonString(), "the model zip's preprocessor config"),
            BeitDevice.Available(settings["device"]!.GetValue<string>()));
        if (threads is int n) TorchSharp.torch.set_num_threads(n);
        return new BeitFeaturizerTransformer(env, settings["output_column"]!.GetValue<string>(), settings["input_column"]!.GetValue<string>(),
            engine, settings["batch_size"]!.GetValue<int>(), Enum.Parse<BeitInvalidImageHandling>(settings["invalid_image"]!.GetValue<string>()), threads);
    }
}
