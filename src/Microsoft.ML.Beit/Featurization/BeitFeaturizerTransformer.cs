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

    /// <summary>How tokens become each vector (<see cref="BeitFeaturizerOptions.Pooling"/>).</summary>
    public BeitPooling Pooling => Engine.Pooling;

    /// <summary>The hidden state pooled, as <see cref="BeitFeaturizerOptions.Layer"/> gave it: 0 the embeddings, k block k, negative from the end.</summary>
    public int Layer => Engine.LayerOption;

    /// <summary>Whether every vector is scaled to unit length (<see cref="BeitFeaturizerOptions.NormalizeL2"/>).</summary>
    public bool NormalizeL2 => Engine.NormalizeL2;

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
    public override BeitFeaturizerTransformer ToOnnxBackend(string device = "auto", int? threads = null, BeitOnnxQuantization quantization = BeitOnnxQuantization.None)
    {
        var onnx = OnnxFeaturizerEngine.From(TorchEngine, device, threads, quantization);
        return new BeitFeaturizerTransformer(Host, OutputColumnName, InputColumnName, onnx, BatchSize, InvalidImage, threads) { TrainingRecipe = TrainingRecipe };
    }

    /// <summary>Frees the model's native memory.</summary>
    public override void Dispose() => Engine.Dispose();

    internal static readonly BeitZipFormat ZipFormat = new("BEITFEAT",
        VersionWritten: 0x00010002,   // 2: the backend setting and the ONNX entry
        VersionReadable: 0x00010002, OldestReadable: 0x00010001, LoaderSignature);

    private protected override void Save(ModelSaveContext ctx) => SaveModel(ctx, ZipFormat, new FeaturizerZipSettings
    {
        OutputColumn = OutputColumnName,
        InputColumn = InputColumnName,
        Pooling = Engine.Pooling,
        Layer = Engine.LayerOption,
        NormalizeL2 = Engine.NormalizeL2,
        BatchSize = BatchSize,
        Device = Engine.DeviceName,
        Threads = Threads,
        InvalidImage = InvalidImage,
        Architecture = Engine.Architecture,
        Config = Engine.Config.ToJsonObject(),
        Preprocessor = JsonNode.Parse(Preprocessor.ToJson())!.AsObject(),
    });

    // Called by ML.NET's model loader (through MLNetInternals).
    internal static BeitFeaturizerTransformer Load(IHostEnvironment env, BeitZipReader zip)
    {
        var settings = BeitZipSettings.Read<FeaturizerZipSettings>(zip.Settings);
        var config = settings.ModelConfig();
        var preprocessor = settings.PreprocessorConfig();
        IBeitFeaturizerEngine engine = settings.Backend == BeitBackend.Onnx
            // Nothing on this path touches LibTorch: a deployed application needs ONNX Runtime only.
            ? new OnnxFeaturizerEngine(LoadOnnxSession(zip, settings), config, settings.Architecture, settings.Pooling, settings.Layer,
                settings.NormalizeL2, preprocessor)
            : LoadTorchEngine(zip, settings, config, preprocessor);
        return new BeitFeaturizerTransformer(env, settings.OutputColumn, settings.InputColumn, engine, settings.BatchSize, settings.InvalidImage,
            settings.Threads) { TrainingRecipe = settings.TrainingRecipe };
    }

    // Its own method, never inlined into Load, so that the ONNX path never compiles LibTorch calls.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static BeitFeaturizerEngine LoadTorchEngine(BeitZipReader zip, FeaturizerZipSettings settings, BeitConfig config, BeitPreprocessorConfig preprocessor)
    {
        var weights = LoadWeights(zip);
        using var checkpoint = BeitCheckpoint.FromWeights("the model zip", config, settings.Architecture, weights);
        var engine = new BeitFeaturizerEngine(checkpoint, settings.Pooling, settings.Layer, settings.NormalizeL2, preprocessor,
            BeitDevice.Available(settings.Device));
        if (settings.Threads is int n) TorchSharp.torch.set_num_threads(n);
        return engine;
    }
}
