using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit;

/// <summary>The BEiT entry points on ML.NET's catalogs.</summary>
public static class BeitCatalog
{
    /// <summary>
    /// Adds BEiT image features. Reads <paramref name="inputColumnName"/>: an image from <c>LoadImages</c>,
    /// encoded bytes from <c>LoadRawImageBytes</c>, or a file path. Writes <paramref name="outputColumnName"/>:
    /// a float vector (the hidden size, or patches x hidden size for <see cref="BeitPooling.Tokens"/>).
    /// See <see cref="BeitFeaturizerOptions"/> for pooling, layer, batch size and device.
    /// </summary>
    public static BeitFeaturizerEstimator BeitFeaturize(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        BeitFeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new BeitFeaturizerEstimator(MLNetInternals.Environment(catalog), outputColumnName, inputColumnName, options);
    }

    /// <summary>
    /// Adds BEiT image features from the model at <paramref name="modelPath"/> (a Hugging Face directory, or a
    /// .safetensors/.pth file with its config beside it) with mean pooling of the last layer.
    /// </summary>
    public static BeitFeaturizerEstimator BeitFeaturize(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        string modelPath) =>
        catalog.BeitFeaturize(outputColumnName, inputColumnName, new BeitFeaturizerOptions { Model = BeitModelSource.FromPath(modelPath) });

    /// <summary>
    /// Fine-tunes BEiT as a multiclass image classifier. Reads the image column (an image from <c>LoadImages</c>,
    /// encoded bytes or a file path) and the key label column; the trained model adds <c>Score</c> (class
    /// probabilities) and <c>PredictedLabel</c>. See <see cref="BeitFinetuneOptions"/> for the recipe.
    /// </summary>
    public static BeitFinetuneTrainer BeitFinetune(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        BeitFinetuneOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new BeitFinetuneTrainer(MLNetInternals.Environment(catalog), options);
    }

    /// <summary>
    /// Fine-tunes BEiT as a multiclass image classifier from <paramref name="model"/> (a checkpoint path, or a preset
    /// name <c>tiny</c>, <c>base</c>, <c>large</c> for random initialisation; read by <see cref="BeitModelSource.Parse"/>). <paramref name="epochs"/> and
    /// <paramref name="learningRate"/> left null, like every other option, come from the recipe for that starting model
    /// and the data (see <see cref="BeitRecipe"/>).
    /// </summary>
    public static BeitFinetuneTrainer BeitFinetune(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string imageColumnName = "Image", string model = "base", int? epochs = null,
        int batchSize = 32, double? learningRate = null, IDataView? validationSet = null) =>
        catalog.BeitFinetune(new BeitFinetuneOptions
        {
            LabelColumnName = labelColumnName,
            ImageColumnName = imageColumnName,
            Model = BeitModelSource.Parse(model),
            Epochs = epochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            ValidationSet = validationSet,
        });

    /// <summary>
    /// Semantic segmentation: <c>mlContext.SemanticSegmentation().Trainers.Beit(options)</c> trains BEiT + UperNet, and
    /// <c>mlContext.SemanticSegmentation().Evaluate(scored)</c> gives mIoU, pixel accuracy and per-class IoU.
    /// </summary>
    public static SemanticSegmentationCatalog SemanticSegmentation(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SemanticSegmentationCatalog(mlContext);
    }

    /// <summary>
    /// Pretrains BEiT by masked image modeling on the images of the data's image column (no labels): blockwise-masked
    /// patches, visual tokens from <see cref="BeitPretrainOptions.Tokenizer"/> as targets. The result is a featurizer over
    /// the pretrained backbone (adds <see cref="BeitPretrainOptions.OutputColumnName"/>); its model zip starts <c>BeitFinetune</c>.
    /// </summary>
    public static BeitPretrainEstimator BeitPretrain(this TransformsCatalog catalog, BeitPretrainOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new BeitPretrainEstimator(MLNetInternals.Environment(catalog), options);
    }

    /// <summary>
    /// Returns <paramref name="model"/> with every BEiT transformer in it (the model itself, or the steps of a transformer chain)
    /// replaced by a copy that scores through ONNX Runtime (<see cref="BeitImageTransformer.ToOnnxBackend"/>); other transformers
    /// are kept as they are. Save the result with <c>mlContext.Model.Save</c>: loading and scoring that zip need no LibTorch.
    /// The BEiT transformers of <paramref name="model"/> keep their TorchSharp models; dispose them when done.
    /// </summary>
    /// <param name="catalog">ML.NET's model operations (<c>mlContext.Model</c>).</param>
    /// <param name="model">A fitted model or pipeline.</param>
    /// <param name="device"><c>cpu</c>, <c>cuda</c>/<c>cuda:N</c> (needs Microsoft.ML.OnnxRuntime.Gpu in the application) or <c>auto</c>.</param>
    /// <param name="threads">ONNX Runtime intra-op threads; null for its default.</param>
    /// <param name="quantization">
    /// <see cref="BeitOnnxQuantization.Int8Dynamic"/>: int8 linear layers (see <see cref="BeitOnnxQuantization"/>). Default none.
    /// BEiT transformers already on ONNX Runtime are kept as they are, so with Int8Dynamic they must already be int8.
    /// </param>
    /// <exception cref="ArgumentException">The model holds no BEiT transformer.</exception>
    /// <exception cref="NotSupportedException">
    /// A BEiT transformer has no ONNX export (for example a model whose <c>hidden_act</c> has no ONNX operator), or already scores
    /// through a float32 ONNX graph and <paramref name="quantization"/> asks for int8.
    /// </exception>
    public static ITransformer ToOnnxBackend(this ModelOperationsCatalog catalog, ITransformer model, string device = "auto", int? threads = null,
        BeitOnnxQuantization quantization = BeitOnnxQuantization.None)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        if (model is BeitImageTransformer beit) return beit.Backend == BeitBackend.Onnx ? KeptOnOnnx(beit, quantization) : beit.ToOnnxBackend(device, threads, quantization);
        if (model is not IEnumerable<ITransformer> steps || !steps.Any(t => t is BeitImageTransformer))
            throw new ArgumentException("The model holds no BEiT transformer to move to ONNX Runtime.", nameof(model));
        // Checked before converting anything, so that a refusal leaves no converted copies behind.
        foreach (var onnx in steps.OfType<BeitImageTransformer>().Where(b => b.Backend == BeitBackend.Onnx)) KeptOnOnnx(onnx, quantization);
        var converted = steps.Select(t => t is BeitImageTransformer { Backend: BeitBackend.TorchSharp } b ? b.ToOnnxBackend(device, threads, quantization) : t).ToArray();
        return MLNetInternals.WithSteps(steps, converted);
    }

    /// <summary>
    /// Writes image features to <paramref name="stream"/> as a Parquet file with two columns: <c>path</c> (string, from the text
    /// column <paramref name="pathColumnName"/>) and <c>features</c> (a list of float, from the float vector column
    /// <paramref name="featuresColumnName"/>, such as <c>BeitFeaturize</c>'s output), one row per row of <paramref name="data"/>, in
    /// order. Rows stream through in row groups of about 32 MB, so memory does not grow with the row count.
    /// <paramref name="metadata"/> goes into the file's key-value metadata (the <c>beit</c> tool writes <c>beit.model</c>,
    /// <c>beit.pooling</c>, <c>beit.layer</c>, <c>beit.normalize_l2</c>); <c>beit.feature_size</c> is added when every vector has
    /// the same length. DuckDB, pyarrow/pandas and Spark read the file.
    /// </summary>
    /// <param name="catalog">ML.NET's data operations (<c>mlContext.Data</c>).</param>
    /// <param name="data">The rows to write, for example the output of a fitted <c>BeitFeaturize</c>.</param>
    /// <param name="stream">A writable, seekable stream (a <see cref="FileStream"/>); it is left open.</param>
    /// <param name="featuresColumnName">The float vector column. Default <c>Features</c>.</param>
    /// <param name="pathColumnName">The text column written as <c>path</c>. Default <c>Path</c>.</param>
    /// <param name="metadata">Key-value pairs for the file's metadata; null for none.</param>
    /// <param name="progress">Told the number of rows written so far after each row; null for none.</param>
    /// <returns>The number of rows written.</returns>
    /// <exception cref="ArgumentException">A column is missing or of another type, or the stream cannot be written or sought.</exception>
    public static long SaveFeaturesAsParquet(this DataOperationsCatalog catalog, IDataView data, Stream stream,
        string featuresColumnName = "Features", string pathColumnName = "Path", IReadOnlyDictionary<string, string>? metadata = null,
        IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(stream);
        return Featurization.FeatureParquetWriter.Write(data, stream, featuresColumnName, pathColumnName, metadata, progress);
    }

    // A transformer already on ONNX Runtime keeps its graph; asking for a quantization it lacks is an error, not a silent float32 model.
    static BeitImageTransformer KeptOnOnnx(BeitImageTransformer onnx, BeitOnnxQuantization quantization)
    {
        if (quantization != BeitOnnxQuantization.None)
            BeitOnnxExporter.Build(onnx, new BeitOnnxExportOptions { Quantization = quantization });   // throws when the graph is not of that quantization
        return onnx;
    }
}
