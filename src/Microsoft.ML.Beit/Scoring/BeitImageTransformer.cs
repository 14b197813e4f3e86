using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// What every BEiT transformer shares: batched scoring of an image column into added columns, one-row scoring for
/// <c>PredictionEngine</c>, and the model-zip layout (settings as JSON; the weights as a safetensors entry, or with
/// <see cref="BeitBackend.Onnx"/> the ONNX model as an entry).
/// </summary>
public abstract class BeitImageTransformer : ITransformer, IDisposable, IBeitImageScorer
{
    const string WeightsEntry = "BeitWeights";
    const string OnnxEntry = "BeitOnnx";

    private protected BeitImageTransformer(IHostEnvironment env, string name, string inputColumnName, int batchSize, BeitInvalidImageHandling invalidImage)
    {
        Host = env.Register(name);
        InputColumnName = inputColumnName;
        BatchSize = batchSize;
        InvalidImage = invalidImage;
    }

    /// <summary>The image column read.</summary>
    public string InputColumnName { get; }

    /// <summary>Images per forward pass.</summary>
    public int BatchSize { get; }

    /// <summary>What happens to unreadable images.</summary>
    public BeitInvalidImageHandling InvalidImage { get; }

    /// <summary>
    /// The training recipe the model was trained with, as the trainer printed it (which recipe, why, and every value, the
    /// given ones marked); null for a model that was not trained by this library's trainers or was saved before they recorded it.
    /// </summary>
    public string? TrainingRecipe { get; internal set; }

    /// <summary>What runs the network: TorchSharp, or ONNX Runtime (see <see cref="ToOnnxBackend"/>).</summary>
    public BeitBackend Backend => OnnxSession is null ? BeitBackend.TorchSharp : BeitBackend.Onnx;

    /// <summary>
    /// A copy of this transformer (same columns and settings) that scores through ONNX Runtime: the model is exported with
    /// <see cref="BeitOnnxExporter"/> and loaded into an ONNX Runtime session with full graph optimization. Saved, the copy's
    /// model zip holds the ONNX model, and loading and scoring it need no LibTorch (see <see cref="BeitBackend.Onnx"/>). This
    /// transformer is left as it is (dispose it when done).
    /// </summary>
    /// <param name="device"><c>cpu</c>, <c>cuda</c>/<c>cuda:N</c> (needs Microsoft.ML.OnnxRuntime.Gpu in the application) or <c>auto</c> (CUDA when available).</param>
    /// <param name="threads">ONNX Runtime intra-op threads; null for its default (all cores).</param>
    /// <param name="quantization">
    /// <see cref="BeitOnnxQuantization.Int8Dynamic"/> exports the linear layers with int8 weights (see <see cref="BeitOnnxQuantization"/>):
    /// a smaller zip and, on CPUs with VNNI, faster scoring, with slightly different scores. Default <see cref="BeitOnnxQuantization.None"/>.
    /// </param>
    /// <exception cref="NotSupportedException">The model or setting has no ONNX export (for example a model whose <c>hidden_act</c> has no ONNX operator).</exception>
    public abstract BeitImageTransformer ToOnnxBackend(string device = "auto", int? threads = null, BeitOnnxQuantization quantization = BeitOnnxQuantization.None);

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    private protected IHost Host { get; }

    IHost IBeitImageScorer.Host => Host;
    int IBeitImageScorer.RowSize => RowSize;
    IReadOnlyList<ScoredColumn> IBeitImageScorer.OutputColumns => OutputColumns;
    float[][] IBeitImageScorer.Score(IReadOnlyList<RgbImage> images) => Score(images);

    private protected abstract int RowSize { get; }
    private protected abstract IReadOnlyList<ScoredColumn> OutputColumns { get; }
    private protected abstract float[][] Score(IReadOnlyList<RgbImage> images);

    /// <summary>The TorchSharp model whose weights the zip stores; null with the ONNX Runtime backend.</summary>
    private protected abstract nn.Module? Model { get; }

    /// <summary>The ONNX Runtime session whose model the zip stores; null with the TorchSharp backend.</summary>
    private protected abstract BeitOnnxSession? OnnxSession { get; }

    /// <summary>The serialized ONNX model with the ONNX Runtime backend; null with TorchSharp.</summary>
    internal byte[]? OnnxModelBytes => OnnxSession?.ModelBytes;

    /// <summary>The error for members that need the TorchSharp model of a transformer on the ONNX Runtime backend.</summary>
    private protected static NotSupportedException NoTorchModel(string what) => new(
        $"{what} needs the TorchSharp model, and this transformer scores through ONNX Runtime (Backend = Onnx), which holds the ONNX graph only; " +
        "use the TorchSharp transformer (or its model zip) it was made from.");

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => BeitScoring.OutputSchema(this, inputSchema);

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => new BeitScoredDataView(this, input);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new BeitScoringRowMapper(this, inputSchema);

    /// <summary>Frees the model's native memory.</summary>
    public abstract void Dispose();

    /// <summary>Writes the version, <paramref name="settings"/> (plus the backend and the recipe) and the model: its weights, or its ONNX graph.</summary>
    private protected void SaveModel(ModelSaveContext ctx, BeitZipFormat format, BeitZipSettings settings)
    {
        settings = settings with
        {
            Backend = Backend,
            TrainingRecipe = TrainingRecipe,
            Threads = OnnxSession is { } session ? session.Threads : settings.Threads,
        };
        if (OnnxSession is { } onnx)
        {
            MLNetInternals.Save(ctx, format, settings.ToJson(), OnnxEntry, stream => stream.Write(onnx.ModelBytes));
            return;
        }
        MLNetInternals.Save(ctx, format, settings.ToJson(), WeightsEntry, stream =>
        {
            using var scope = NewDisposeScope();
            SafetensorsFile.Write(stream, Model!.state_dict());
        });
    }

    /// <summary>
    /// Opens the ONNX model written by <see cref="SaveModel"/> (Backend = Onnx), without LibTorch. A model saved for CUDA
    /// scores on the CPU where the application has no CUDA provider, as TorchSharp models do.
    /// </summary>
    private protected static BeitOnnxSession LoadOnnxSession(BeitZipReader zip, BeitZipSettings settings)
    {
        byte[] model = zip.Entry(OnnxEntry)
            ?? throw new InvalidDataException($"The model zip says Backend = Onnx but has no '{OnnxEntry}' entry; it is damaged or was not written by this library.");
        string device = settings.Device;
        if (device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase)) device = "auto";
        return BeitOnnxSession.Create(model, device, settings.Threads);
    }

    /// <summary>The weights written by <see cref="SaveModel"/>; the caller owns them.</summary>
    private protected static Dictionary<string, Tensor> LoadWeights(BeitZipReader zip) => ModelZipWeights.Read(zip, WeightsEntry);

    void ICanSaveModel.Save(ModelSaveContext ctx) => Save(ctx);

    private protected abstract void Save(ModelSaveContext ctx);
}
