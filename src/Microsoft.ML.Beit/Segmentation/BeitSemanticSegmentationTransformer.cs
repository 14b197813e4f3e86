using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit;

/// <summary>
/// A trained BEiT segmenter: adds <c>PredictedMask</c>, a variable-length vector of UInt32 class ids, one per input
/// pixel in row-major order (its length is the image's width x height), and optionally per-class probabilities.
/// The mask column carries the class names as <c>ClassNames</c> annotations, which
/// <see cref="SemanticSegmentationCatalog.Evaluate"/> reads. Scores in batches, serves <c>PredictionEngine</c>,
/// and saves into the model zip.
/// </summary>
public sealed class BeitSemanticSegmentationTransformer : BeitImageTransformer
{
    internal const string LoaderSignature = "BeitSemanticSegmenter";

    /// <summary>The annotation kind holding the class names on the predicted-mask column.</summary>
    public const string ClassNamesAnnotation = "ClassNames";

    readonly IReadOnlyList<ScoredColumn> _outputColumns;

    internal BeitSemanticSegmentationTransformer(IHostEnvironment env, IBeitSegmentationEngine engine, string imageColumnName,
        string predictedMaskColumnName, string? scoreColumnName, int batchSize, BeitInvalidImageHandling invalidImage, int ignoreIndex, bool reduceLabels)
        : base(env, nameof(BeitSemanticSegmentationTransformer), imageColumnName, batchSize, invalidImage)
    {
        Engine = engine;
        PredictedMaskColumnName = predictedMaskColumnName;
        ScoreColumnName = scoreColumnName;
        IgnoreIndex = ignoreIndex;
        ReduceLabels = reduceLabels;
        var columns = new List<ScoredColumn> { MaskColumn() };
        if (scoreColumnName is not null) columns.Add(ScoreColumn(scoreColumnName));
        _outputColumns = columns;
    }

    /// <summary>The predicted-mask column.</summary>
    public string PredictedMaskColumnName { get; }

    /// <summary>The probabilities column, or null.</summary>
    public string? ScoreColumnName { get; }

    /// <summary>Class names by class id.</summary>
    public IReadOnlyList<string> ClassNames => Engine.ClassNames;

    /// <summary>The label value training ignored.</summary>
    public int IgnoreIndex { get; }

    /// <summary>Whether training reduced the labels (ADE20K convention); evaluation does the same.</summary>
    public bool ReduceLabels { get; }

    /// <summary>The model's architecture (with the class names in <c>id2label</c>).</summary>
    public BeitConfig ModelConfig => Engine.Config;

    internal IBeitSegmentationEngine Engine { get; }

    /// <summary>The TorchSharp engine (its model for export and checkpoints); not there with the ONNX Runtime backend.</summary>
    internal BeitSegmentationEngine TorchEngine => Engine as BeitSegmentationEngine ?? throw NoTorchModel("This operation");

    private protected override int RowSize => 2;
    private protected override IReadOnlyList<ScoredColumn> OutputColumns => _outputColumns;
    private protected override TorchSharp.torch.nn.Module? Model => (Engine as BeitSegmentationEngine)?.Model;
    private protected override BeitOnnxSession? OnnxSession => (Engine as OnnxSegmentationEngine)?.Session;

    /// <inheritdoc/>
    public override BeitSemanticSegmentationTransformer ToOnnxBackend(string device = "auto", int? threads = null, BeitOnnxQuantization quantization = BeitOnnxQuantization.None) =>
        new(Host, OnnxSegmentationEngine.From(TorchEngine, device, threads, quantization), InputColumnName, PredictedMaskColumnName, ScoreColumnName, BatchSize,
            InvalidImage, IgnoreIndex, ReduceLabels)
        {
            TrainingRecipe = TrainingRecipe,
        };

    // A row is [width, height, mask..., probabilities...]; an unreadable image's row is [NaN, NaN].
    private protected override float[][] Score(IReadOnlyList<RgbImage> images) =>
        Engine.Predict(images, ScoreColumnName is not null).Select(p =>
        {
            var row = new float[2 + p.Mask.Length + (p.Probabilities?.Length ?? 0)];
            row[0] = p.Width;
            row[1] = p.Height;
            for (int i = 0; i < p.Mask.Length; i++) row[2 + i] = p.Mask[i];
            p.Probabilities?.CopyTo(row, 2 + p.Mask.Length);
            return row;
        }).ToArray();

    /// <summary>Predicts the masks of images directly, without a data view: class ids per pixel, row-major.</summary>
    public IReadOnlyList<int[]> PredictMasks(IReadOnlyList<RgbImage> images) => Engine.Predict(images).Select(p => p.Mask).ToList();

    /// <summary>Saves the model in the Hugging Face layout (config.json + model.safetensors).</summary>
    /// <exception cref="NotSupportedException">The transformer scores through ONNX Runtime and holds no TorchSharp model.</exception>
    public void SaveCheckpoint(string directory) => BeitCheckpoint.Save(Model ?? throw NoTorchModel(nameof(SaveCheckpoint)), directory);

    /// <summary>Frees the model's native memory.</summary>
    public override void Dispose() => Engine.Dispose();

    static int Pixels(float[] row) => float.IsNaN(row[0]) ? 0 : (int)row[0] * (int)row[1];

    ScoredColumn MaskColumn()
    {
        var annotations = new DataViewSchema.Annotations.Builder();
        annotations.Add(ClassNamesAnnotation, new VectorDataViewType(TextDataViewType.Instance, Engine.Classes),
            (ref VBuffer<ReadOnlyMemory<char>> value) =>
            {
                var names = ClassNames;
                var editor = VBufferEditor.Create(ref value, names.Count);
                for (int i = 0; i < names.Count; i++) editor.Values[i] = names[i].AsMemory();
                value = editor.Commit();
            });
        return new ScoredColumn(PredictedMaskColumnName, new VectorDataViewType(NumberDataViewType.UInt32), annotations.ToAnnotations(), current =>
            (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> value) =>
            {
                var row = current();
                int pixels = Pixels(row);
                var editor = VBufferEditor.Create(ref value, pixels);
                for (int i = 0; i < pixels; i++) editor.Values[i] = (uint)row[2 + i];
                value = editor.Commit();
            }));
    }

    ScoredColumn ScoreColumn(string name) =>
        new(name, new VectorDataViewType(NumberDataViewType.Single), null, current =>
            (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
            {
                var row = current();
                int pixels = Pixels(row), length = row.Length - 2 - pixels;
                var editor = VBufferEditor.Create(ref value, Math.Max(length, 0));
                if (length > 0) row.AsSpan(2 + pixels, length).CopyTo(editor.Values);
                value = editor.Commit();
            }));

    internal static readonly BeitZipFormat ZipFormat = new("BEITSEGM",
        VersionWritten: 0x00010002,   // 2: the backend setting and the ONNX entry
        VersionReadable: 0x00010002, OldestReadable: 0x00010001, LoaderSignature);

    private protected override void Save(ModelSaveContext ctx) => SaveModel(ctx, ZipFormat, new SegmenterZipSettings
    {
        ImageColumn = InputColumnName,
        PredictedMaskColumn = PredictedMaskColumnName,
        ScoreColumn = ScoreColumnName,
        BatchSize = BatchSize,
        Device = Engine.DeviceName,
        InvalidImage = InvalidImage,
        IgnoreIndex = IgnoreIndex,
        ReduceLabels = ReduceLabels,
        CropSize = Engine.CropSize,
        Config = Engine.Config.ToJsonObject(),
        Preprocessor = JsonNode.Parse(Engine.Processor.Config.ToJson())!.AsObject(),
    });

    // Called by ML.NET's model loader (through MLNetInternals).
    internal static BeitSemanticSegmentationTransformer Load(IHostEnvironment env, BeitZipReader zip)
    {
        var settings = BeitZipSettings.Read<SegmenterZipSettings>(zip.Settings);
        var config = settings.ModelConfig();
        var preprocessor = settings.PreprocessorConfig();
        // The ONNX path never touches LibTorch: a deployed application needs ONNX Runtime only.
        IBeitSegmentationEngine engine = settings.Backend == BeitBackend.Onnx
            ? new OnnxSegmentationEngine(LoadOnnxSession(zip, settings), config, preprocessor, settings.CropSize, settings.BatchSize)
            : LoadTorchEngine(zip, config, preprocessor, settings.CropSize, settings.Device, settings.BatchSize);
        return new BeitSemanticSegmentationTransformer(env, engine, settings.ImageColumn, settings.PredictedMaskColumn, settings.ScoreColumn,
            settings.BatchSize, settings.InvalidImage, settings.IgnoreIndex, settings.ReduceLabels)
        {
            TrainingRecipe = settings.TrainingRecipe,
        };
    }

    // Its own method, never inlined into Load, so that the ONNX path never compiles LibTorch calls.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static BeitSegmentationEngine LoadTorchEngine(BeitZipReader zip, BeitConfig config, BeitPreprocessorConfig preprocessor, int cropSize, string device, int batchSize)
    {
        var model = new BeitForSemanticSegmentation(config);
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
            return new BeitSegmentationEngine(model, preprocessor, cropSize, BeitDevice.Available(device), batchSize);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
