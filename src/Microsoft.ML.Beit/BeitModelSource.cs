using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit;

/// <summary>
/// Where a BEiT model comes from: a Hugging Face directory, a single .safetensors or .pth file (with a
/// config when it carries none), or a preset name for random initialisation.
/// </summary>
public sealed class BeitModelSource
{
    BeitModelSource(string? path, string? configPath, string? preset, BeitConfig? config = null)
    {
        Path = path;
        ConfigPath = configPath;
        Preset = preset;
        Config = config;
    }

    /// <summary>An architecture to initialise randomly (see <see cref="FromConfig"/>); null otherwise.</summary>
    public BeitConfig? Config { get; }

    /// <summary>The checkpoint directory or file; null for a preset.</summary>
    public string? Path { get; }

    /// <summary>A config.json for a checkpoint that carries none.</summary>
    public string? ConfigPath { get; }

    /// <summary>A preset name (<c>tiny</c>, <c>base</c>, <c>large</c>): for a path, what the weights do not determine; alone, random weights.</summary>
    public string? Preset { get; }

    /// <summary>A Hugging Face directory (config.json + model.safetensors or pytorch_model.bin, optional preprocessor_config.json).</summary>
    public static BeitModelSource FromDirectory(string directory) => new(directory, null, null);

    /// <summary>A .safetensors or .pth file; <paramref name="configPath"/> or <paramref name="preset"/> supply what its weights do not determine.</summary>
    public static BeitModelSource FromFile(string path, string? configPath = null, string? preset = null) => new(path, configPath, preset);

    /// <summary>A directory, a .safetensors/.pth file, or a model.zip written by this library (its classifier or featurizer), whichever <paramref name="path"/> is.</summary>
    public static BeitModelSource FromPath(string path) => new(path, null, null);

    /// <summary>Random initialisation of a preset architecture (for smoke tests and training from scratch).</summary>
    public static BeitModelSource FromPreset(string preset) => new(null, null, preset);

    /// <summary>Random initialisation of any architecture (for training from scratch).</summary>
    public static BeitModelSource FromConfig(BeitConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return new(null, null, null, config.Clone());
    }

    /// <summary>
    /// Reads a model argument as the <c>beit</c> tool's <c>--model</c> does: a preset name (<c>tiny</c>, <c>base</c>,
    /// <c>large</c>, any case) when no file or folder has that name, random weights; an existing <c>.json</c> file, a
    /// config.json whose architecture starts from random weights; anything else a path (<see cref="FromPath"/>).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="value"/> is empty, or is a bare name (no folder, no extension) that is neither a preset nor an existing file or folder.
    /// </exception>
    public static BeitModelSource Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        bool exists = System.IO.Path.Exists(value);
        if (BeitConfig.PresetNames.Contains(value.ToLowerInvariant()) && !exists) return FromPreset(value);
        // A mistyped preset reads as a path that is not there; say what a bare name can be.
        if (!exists && !value.Contains('/') && !value.Contains('\\') && !System.IO.Path.HasExtension(value))
            throw new ArgumentException($"'{value}' is neither a preset ({string.Join(", ", BeitConfig.PresetNames)}) nor a file or folder " +
                "(a Hugging Face directory, a .safetensors or .pth checkpoint, a config .json or a model.zip).", nameof(value));
        if (value.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && File.Exists(value)) return FromConfig(BeitConfig.Load(value));
        return FromPath(value);
    }

    /// <inheritdoc/>
    public override string ToString() => Path ?? (Preset is not null ? $"preset '{Preset}'" : "a random model");

    /// <summary>The architecture of a random-initialisation source (preset or config).</summary>
    internal BeitConfig RandomArchitecture() => Config?.Clone() ?? BeitConfig.FromPreset(Preset!);

    // A model zip carries its preprocessing; it is remembered when the zip is loaded.
    BeitPreprocessorConfig? _zipPreprocessor;

    internal BeitCheckpoint Load()
    {
        if (Path is null)
            throw new InvalidOperationException("A preset or config model source has no checkpoint to load.");
        if (Path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) && File.Exists(Path))
            return FromModelZip(Path, out _zipPreprocessor);
        return BeitCheckpoint.Load(Path, new BeitCheckpointOptions { ConfigPath = ConfigPath, Preset = Preset });
    }

    // An ML.NET model zip written by this library: the weights of its last BEiT transformer (a classifier to
    // continue training, or a featurizer's backbone).
    static BeitCheckpoint FromModelZip(string path, out BeitPreprocessorConfig preprocessor)
    {
        var model = new MLContext().Model.Load(path, out _);
        try
        {
            var transformers = model is IEnumerable<ITransformer> chain ? chain.ToList() : [model];
            var classifier = transformers.OfType<BeitImageClassificationTransformer>().LastOrDefault();
            var featurizer = transformers.OfType<BeitFeaturizerTransformer>().LastOrDefault();
            BeitImageTransformer beit = (BeitImageTransformer?)classifier ?? featurizer
                ?? throw new InvalidDataException($"{path} holds no BEiT classifier or featurizer; it was not written by this library.");
            if (beit.Backend == BeitBackend.Onnx)
                throw new InvalidDataException($"{path} scores through ONNX Runtime (Backend = Onnx) and holds the ONNX graph, not TorchSharp weights; " +
                    "start from the model zip it was converted from.");
            TorchSharp.torch.nn.Module module = classifier?.TorchEngine.Model ?? featurizer!.TorchEngine.Model;
            preprocessor = classifier?.Engine.Processor.Config ?? featurizer!.Preprocessor;
            var (config, architecture) = BeitCheckpoint.Describe(module);
            using var scope = TorchSharp.torch.NewDisposeScope();
            var weights = module.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().cpu().clone().DetachFromDisposeScope());
            if (architecture == BeitArchitecture.Backbone)
                weights = weights.ToDictionary(p => "beit." + p.Key, p => p.Value);
            return BeitCheckpoint.FromWeights(path, config.Clone(), architecture, weights);
        }
        finally
        {
            foreach (var t in model is IEnumerable<ITransformer> chain ? chain : [model])
                (t as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// The preprocessing that goes with this model: a loaded model zip's own, or the preprocessor_config.json in the
    /// checkpoint's directory; null when there is none (a preset or config source, or a checkpoint without one).
    /// </summary>
    public BeitPreprocessorConfig? FindPreprocessorConfig()
    {
        if (_zipPreprocessor is not null) return _zipPreprocessor;
        if (Path is null) return null;
        string directory = Directory.Exists(Path) ? Path : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        string file = System.IO.Path.Combine(directory, "preprocessor_config.json");
        return File.Exists(file) ? BeitPreprocessorConfig.Load(file) : null;
    }
}
