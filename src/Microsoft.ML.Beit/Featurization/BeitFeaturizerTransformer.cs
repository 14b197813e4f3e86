using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
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

    internal BeitFeaturizerTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, IBeitFeaturizerEngine engine,
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
    internal IBeitFeaturizerEngine Engine { get; }

    /// <summary>The TorchSharp engine (its model for export and checkpoints); not there with the ONNX Runtime backend.</summary>
    internal BeitFeaturizerEngine TorchEngine => Engine as BeitFeaturizerEngine ?? throw NoTorchModel("This operation");

    private protected override int RowSize => FeatureSize;
    private protected override IReadOnlyList<ScoredColumn> OutputColumns => _outputColumns;
    private protected override float[][] Score(IReadOnlyList<RgbImage> images) => Engine.Featurize(images);
    private protected override TorchSharp.torch.nn.Module? Model => (Engine as BeitFeaturizerEngine)?.Model;
    private protected override BeitOnnxSession? OnnxSession => (Engine as OnnxFeaturizerEngine)?.Session;

    /// <inheritdoc/>
    public override BeitFeaturizerTransformer ToOnnxBackend(string device = "auto", int? threads = null)
    {
        var onnx = OnnxFeaturizerEngine.From(TorchEngine, device, threads);
        return new BeitFeaturizerTransformer(Host, OutputColumnName, InputColumnName, onnx, BatchSize, InvalidImage, threads) { TrainingRecipe = TrainingRecipe };
    }

    /// <summary>Frees the model's native memory.</summary>
    public override void Dispose() => Engine.Dispose();

    static VersionInfo GetVersionInfo() => new(
        modelSignature: "BEITFEAT",
        verWrittenCur: 0x00010002,   // 2: the backend setting and the ONNX entry
        verReadableCur: 0x00010002,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(BeitFeaturizerTransformer).Assembly.FullName);

    private protected override void Save(ModelSaveContext ctx)
    {
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
            ["architecture"] = Engine.Architecture.ToString(),
            ["config"] = Engine.Config.ToJsonObject(),
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
        int? threads = settings["threads"]?.GetValue<int>();
        var pooling = Enum.Parse<BeitPooling>(settings["pooling"]!.GetValue<string>());
        bool normalizeL2 = settings["normalize_l2"]!.GetValue<bool>();
        var preprocessor = BeitPreprocessorConfig.FromJson(settings["preprocessor"]!.ToJsonString(), "the model zip's preprocessor config");
        string outputColumn = settings["output_column"]!.GetValue<string>(), inputColumn = settings["input_column"]!.GetValue<string>();
        int batchSize = settings["batch_size"]!.GetValue<int>();
        var invalidImage = Enum.Parse<BeitInvalidImageHandling>(settings["invalid_image"]!.GetValue<string>());
        if (SavedBackend(settings) == BeitBackend.Onnx)
        {
            // Nothing on this path touches LibTorch: a deployed application needs ONNX Runtime only.
            var onnx = new OnnxFeaturizerEngine(LoadOnnxSession(ctx, settings), config, architecture, pooling, settings["layer"]!.GetValue<int>(),
                normalizeL2, preprocessor);
            return new BeitFeaturizerTransformer(env, outputColumn, inputColumn, onnx, batchSize, invalidImage, threads) { TrainingRecipe = SavedTrainingRecipe(settings) };
        }
        var engine = LoadTorchEngine(ctx, settings, config, architecture, pooling, normalizeL2, preprocessor, threads);
        return new BeitFeaturizerTransformer(env, outputColumn, inputColumn, engine, batchSize, invalidImage, threads) { TrainingRecipe = SavedTrainingRecipe(settings) };
    }

    // Its own method, never inlined into Create, so that the ONNX path never compiles LibTorch calls.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static BeitFeaturizerEngine LoadTorchEngine(ModelLoadContext ctx, System.Text.Json.Nodes.JsonObject settings, BeitConfig config,
        BeitArchitecture architecture, BeitPooling pooling, bool normalizeL2, BeitPreprocessorConfig preprocessor, int? threads)
    {
        var weights = LoadWeights(ctx);
        using var checkpoint = BeitCheckpoint.FromWeights("the model zip", config, architecture, weights);
        var engine = new BeitFeaturizerEngine(checkpoint, pooling, settings["layer"]!.GetValue<int>(), normalizeL2, preprocessor,
            BeitDevice.Available(settings["device"]!.GetValue<string>()));
        if (threads is int n) TorchSharp.torch.set_num_threads(n);
        return engine;
    }
}
