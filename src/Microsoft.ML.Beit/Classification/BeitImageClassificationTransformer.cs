using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Classification;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit;

/// <summary>
/// A fine-tuned BEiT classifier: adds <c>Score</c> (class probabilities; slot names are the class names) and
/// <c>PredictedLabel</c> (a key of the training label's type), like ML.NET's multiclass trainers, so
/// <c>MulticlassClassification.Evaluate</c> and <c>MapKeyToValue</c> work. Scores in batches, serves
/// <c>PredictionEngine</c>, and saves into the model zip.
/// </summary>
public sealed class BeitImageClassificationTransformer : BeitImageTransformer
{
    internal const string LoaderSignature = "BeitImageClassifier";

    readonly IReadOnlyList<ScoredColumn> _outputColumns;

    internal BeitImageClassificationTransformer(IHostEnvironment env, IBeitClassifierEngine engine, string imageColumnName,
        string scoreColumnName, string predictedLabelColumnName, int batchSize, BeitInvalidImageHandling invalidImage)
        : base(env, nameof(BeitImageClassificationTransformer), imageColumnName, batchSize, invalidImage)
    {
        Engine = engine;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
        _outputColumns = [ScoredColumn.Vector(scoreColumnName, engine.Classes, ScoreAnnotations()), PredictedLabelColumn()];
    }

    /// <summary>The probabilities column.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The predicted class (key) column.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>Class names, by class index (key value - 1).</summary>
    public IReadOnlyList<string> LabelNames => Engine.LabelNames;

    /// <summary>The model's architecture (with the class names in <c>id2label</c>).</summary>
    public BeitConfig ModelConfig => Engine.Config;

    internal IBeitClassifierEngine Engine { get; }

    /// <summary>The TorchSharp engine (its model for export, checkpoints and further training); not there with the ONNX Runtime backend.</summary>
    internal BeitClassifierEngine TorchEngine => Engine as BeitClassifierEngine ?? throw NoTorchModel("This operation");

    private protected override int RowSize => Engine.Classes;
    private protected override IReadOnlyList<ScoredColumn> OutputColumns => _outputColumns;
    private protected override float[][] Score(IReadOnlyList<RgbImage> images) => Engine.Probabilities(images);
    private protected override TorchSharp.torch.nn.Module? Model => (Engine as BeitClassifierEngine)?.Model;
    private protected override BeitOnnxSession? OnnxSession => (Engine as OnnxClassifierEngine)?.Session;

    /// <inheritdoc/>
    public override BeitImageClassificationTransformer ToOnnxBackend(string device = "auto", int? threads = null, BeitOnnxQuantization quantization = BeitOnnxQuantization.None) =>
        new(Host, OnnxClassifierEngine.From(TorchEngine, device, threads, quantization), InputColumnName, ScoreColumnName, PredictedLabelColumnName, BatchSize, InvalidImage)
        {
            TrainingRecipe = TrainingRecipe,
        };

    /// <summary>Saves the model in the Hugging Face layout (config.json with id2label + model.safetensors).</summary>
    /// <exception cref="NotSupportedException">The transformer scores through ONNX Runtime and holds no TorchSharp model.</exception>
    public void SaveCheckpoint(string directory) => BeitCheckpoint.Save(Model ?? throw NoTorchModel(nameof(SaveCheckpoint)), directory);

    /// <summary>Frees the model's native memory.</summary>
    public override void Dispose() => Engine.Dispose();

    DataViewSchema.Annotations ScoreAnnotations() => MLNetInternals.MulticlassScore(Engine.Classes, LabelNamesGetter);

    ScoredColumn PredictedLabelColumn()
    {
        return new ScoredColumn(PredictedLabelColumnName, new KeyDataViewType(typeof(uint), Engine.Classes), MLNetInternals.TextKeyValues(Engine.Classes, LabelNamesGetter), current =>
            (ValueGetter<uint>)((ref uint value) =>
            {
                var probabilities = current();
                int best = -1;
                for (int i = 0; i < probabilities.Length; i++)
                    if (!float.IsNaN(probabilities[i]) && (best < 0 || probabilities[i] > probabilities[best])) best = i;
                value = (uint)(best + 1); // 0 is the missing key: an unreadable image has no prediction
            }));
    }

    void LabelNamesGetter(ref VBuffer<ReadOnlyMemory<char>> value)
    {
        var names = LabelNames;
        var editor = VBufferEditor.Create(ref value, names.Count);
        for (int i = 0; i < names.Count; i++) editor.Values[i] = names[i].AsMemory();
        value = editor.Commit();
    }

    internal static readonly BeitZipFormat ZipFormat = new("BEITCLSF",
        VersionWritten: 0x00010002,   // 2: the backend setting and the ONNX entry
        VersionReadable: 0x00010002, OldestReadable: 0x00010001, LoaderSignature);

    private protected override void Save(ModelSaveContext ctx) => SaveModel(ctx, ZipFormat, new ClassifierZipSettings
    {
        ImageColumn = InputColumnName,
        ScoreColumn = ScoreColumnName,
        PredictedLabelColumn = PredictedLabelColumnName,
        BatchSize = BatchSize,
        Device = Engine.DeviceName,
        InvalidImage = InvalidImage,
        Config = Engine.Config.ToJsonObject(),
        Preprocessor = JsonNode.Parse(Engine.Processor.Config.ToJson())!.AsObject(),
    });

    // Called by ML.NET's model loader (through MLNetInternals).
    internal static BeitImageClassificationTransformer Load(IHostEnvironment env, BeitZipReader zip)
    {
        var settings = BeitZipSettings.Read<ClassifierZipSettings>(zip.Settings);
        var config = settings.ModelConfig();
        var preprocessor = settings.PreprocessorConfig();
        // The ONNX path never touches LibTorch: a deployed application needs ONNX Runtime only.
        IBeitClassifierEngine engine = settings.Backend == BeitBackend.Onnx
            ? new OnnxClassifierEngine(LoadOnnxSession(zip, settings), config, preprocessor)
            : LoadTorchEngine(zip, config, preprocessor, settings.Device);
        return new BeitImageClassificationTransformer(env, engine, settings.ImageColumn, settings.ScoreColumn, settings.PredictedLabelColumn,
            settings.BatchSize, settings.InvalidImage)
        {
            TrainingRecipe = settings.TrainingRecipe,
        };
    }

    // Its own method, never inlined into Load, so that the ONNX path never compiles LibTorch calls.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static BeitClassifierEngine LoadTorchEngine(BeitZipReader zip, BeitConfig config, BeitPreprocessorConfig preprocessor, string device)
    {
        var model = new BeitForImageClassification(config);
        try
        {
            var weights = LoadWeights(zip);
            try
            {
                BeitStateDict.Load(model, weights, "the model zip");
            }
            finally
            {
                foreach (var t in weights.Values) t.Dispose();
            }
            return new BeitClassifierEngine(model, preprocessor, BeitDevice.Available(device));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
