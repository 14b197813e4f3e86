using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit;

/// <summary>
/// Estimator of <see cref="BeitFeaturizerTransformer"/>: nothing is learned; fitting loads the model
/// and checks the input column. Create it with <see cref="BeitCatalog.BeitFeaturize(TransformsCatalog, string, string, BeitFeaturizerOptions)"/>.
/// </summary>
public sealed class BeitFeaturizerEstimator : IEstimator<BeitFeaturizerTransformer>
{
    readonly IHostEnvironment _env;
    readonly string _outputColumnName;
    readonly string _inputColumnName;
    readonly BeitFeaturizerOptions _options;

    internal BeitFeaturizerEstimator(IHostEnvironment env, string outputColumnName, string inputColumnName, BeitFeaturizerOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
        options.Validate();
        _env = env;
        _outputColumnName = outputColumnName;
        _inputColumnName = inputColumnName;
        _options = options;
    }

    /// <summary>Loads the model and returns the featurizer for data shaped like <paramref name="input"/>.</summary>
    public BeitFeaturizerTransformer Fit(IDataView input)
    {
        ImageColumn.Find(input.Schema, _inputColumnName);
        string device = BeitDevice.ForContext(_options.Device, _env);
        using var checkpoint = _options.Model!.Load();
        var preprocessor = _options.Preprocessor ?? _options.Model.FindPreprocessorConfig()
            ?? Preprocessing.BeitPreprocessorConfig.Pt22k(checkpoint.Config.ImageSize);
        if (_options.Threads is int threads) TorchSharp.torch.set_num_threads(threads);
        var engine = new BeitFeaturizerEngine(checkpoint, _options.Pooling, _options.Layer, _options.NormalizeL2, preprocessor, device);
        var featurizer = new BeitFeaturizerTransformer(_env, _outputColumnName, _inputColumnName, engine, _options.BatchSize, _options.InvalidImage, _options.Threads);
        if (_options.Backend == BeitBackend.TorchSharp) return featurizer;
        using (featurizer) return featurizer.ToOnnxBackend(device, _options.Threads, _options.OnnxQuantization);
    }

    /// <summary>The input columns plus a known-size float vector column (its size is known once the model is loaded, at fit time).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFind(_inputColumnName, out var column))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Input column '{_inputColumnName}' is not in the data.");
        if (!ImageColumn.IsSupported(column))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Input column '{_inputColumnName}' is {MLNetInternals.TypeName(column)}; BeitFeaturize needs {ImageColumn.Kinds}.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_outputColumnName] = MLNetInternals.Column(_outputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single);
        return new SchemaShape(columns.Values);
    }
}
