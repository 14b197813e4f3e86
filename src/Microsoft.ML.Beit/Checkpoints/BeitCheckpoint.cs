using System.Text.Json.Nodes;
using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>Which BEiT model a checkpoint holds.</summary>
public enum BeitArchitecture
{
    /// <summary>The backbone alone (Hugging Face <c>BeitModel</c>).</summary>
    Backbone,
    /// <summary>Backbone, pooler and classifier (Hugging Face <c>BeitForImageClassification</c>, unilm fine-tuned models).</summary>
    ImageClassification,
    /// <summary>Backbone, final LayerNorm and visual-token head (Hugging Face <c>BeitForMaskedImageModeling</c>, unilm pre-trained models).</summary>
    MaskedImageModeling,
    /// <summary>Backbone, four necks, UperNet decode head and optional FCN auxiliary head (Hugging Face <c>BeitForSemanticSegmentation</c>).</summary>
    SemanticSegmentation,
}

/// <summary>How a checkpoint names its parameters.</summary>
public enum BeitCheckpointLayout
{
    /// <summary>Hugging Face names (<c>beit.encoder.layer.0.attention.attention.query.weight</c>).</summary>
    HuggingFace,
    /// <summary>Original unilm names (<c>blocks.0.attn.qkv.weight</c>, <c>q_bias</c>, <c>gamma_1</c>).</summary>
    Unilm,
}

/// <summary>Where the architecture of a checkpoint that carries none comes from.</summary>
public sealed class BeitCheckpointOptions
{
    /// <summary>An explicit config; it overrides a config.json beside or inside the checkpoint. Default none.</summary>
    public BeitConfig? Config { get; init; }

    /// <summary>A config.json to read (the tool's <c>--config-path</c>). Default none.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>A preset (<c>tiny</c>, <c>base</c>, <c>large</c>) for what the weights do not determine. Default none.</summary>
    public string? Preset { get; init; }
}

/// <summary>
/// A BEiT checkpoint read into memory: its config, which model it holds, and its weights under
/// Hugging Face names. Reads (a) a Hugging Face directory (config.json with model.safetensors,
/// a sharded model.safetensors.index.json, or pytorch_model.bin), (b) a single .safetensors file,
/// (c) an original unilm .pth/.pt (<c>{"model": ...}</c>, <c>{"module": ...}</c> or a plain state dict), including
/// unilm's mmsegmentation segmentation checkpoints (<c>{"state_dict": ...}</c> with <c>backbone.</c>, <c>decode_head.</c> keys).
/// Pickled files are read by a restricted reader that executes nothing.
/// </summary>
public sealed class BeitCheckpoint : IDisposable
{
    readonly Dictionary<string, Tensor> _weights;

    BeitCheckpoint(string source, BeitConfig config, BeitArchitecture architecture, BeitCheckpointLayout layout, Dictionary<string, Tensor> weights)
    {
        Source = source;
        Config = config;
        Architecture = architecture;
        Layout = layout;
        _weights = weights;
    }

    /// <summary>The file or directory read.</summary>
    public string Source { get; }

    /// <summary>The architecture, from the checkpoint's config or read off its weights.</summary>
    public BeitConfig Config { get; }

    /// <summary>Which model the weights are for.</summary>
    public BeitArchitecture Architecture { get; }

    /// <summary>The parameter naming found in the file (weights are always exposed under Hugging Face names).</summary>
    public BeitCheckpointLayout Layout { get; }

    /// <summary>The weights under Hugging Face names, on the CPU.</summary>
    public IReadOnlyDictionary<string, Tensor> Weights => _weights;

    /// <summary>Number of parameter values (every weight counted once).</summary>
    public long ParameterCount => _weights.Values.Sum(t => t.numel());

    /// <summary>Reads a checkpoint; see the class remarks for the accepted forms.</summary>
    /// <exception cref="FileNotFoundException">Nothing is at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable BEiT checkpoint; the message says why.</exception>
    public static BeitCheckpoint Load(string path, BeitCheckpointOptions? options = null)
    {
        options ??= new BeitCheckpointOptions();
        string weightsPath;
        if (Directory.Exists(path))
            weightsPath = FindWeightsInDirectory(path);
        else if (File.Exists(path))
            weightsPath = path;
        else
            throw new FileNotFoundException($"No checkpoint at '{path}': expected a Hugging Face directory, a .safetensors file or a .pth file.", path);

        var raw = ReadStateDict(weightsPath);
        Dictionary<string, Tensor>? weights = null;
        try
        {
            bool mmseg = MmsegKeyMap.IsSegmentationLayout(raw.Keys);
            if (mmseg) raw = MmsegKeyMap.Unwrap(raw);
            var layout = UnilmKeyMap.IsUnilmLayout(raw.Keys) ? BeitCheckpointLayout.Unilm : BeitCheckpointLayout.HuggingFace;
            weights = layout == BeitCheckpointLayout.Unilm ? UnilmKeyMap.ToHuggingFace(raw) : AddBackbonePrefix(raw);
            var architecture = weights.ContainsKey("classifier.weight") ? BeitArchitecture.ImageClassification
                : weights.ContainsKey("decode_head.classifier.weight") ? BeitArchitecture.SemanticSegmentation
                : weights.ContainsKey("lm_head.weight") ? BeitArchitecture.MaskedImageModeling
                : BeitArchitecture.Backbone;

            // Every config goes through the same inference: a config file must agree with the weights,
            // a preset only fills in what they do not determine.
            var (hints, hintSource) = FindConfig(options, weightsPath);
            var config = BeitConfigInference.Infer(weights, hints, hintSource, layout, path);
            if (mmseg && hintSource != ConfigSource.ConfigFile)
            {
                // unilm's ADE20K configs: blocks 3, 5, 7, 11 of BEiT-base and 7, 11, 15, 23 of BEiT-large.
                config.OutIndicesConvention = "unilm";
                if (config.NumHiddenLayers == 24) config.OutIndices = [7, 11, 15, 23];
                else if (config.NumHiddenLayers == 12) config.OutIndices = [3, 5, 7, 11];
            }

            DisposeReplaced(raw, weights);
            DropAndCheckRelativePositionIndex(weights, config, path);
            CheckFinite(weights, path);
            return new BeitCheckpoint(path, config, architecture, layout, weights);
        }
        catch
        {
            TensorScopes.Dispose(raw.Values.Concat(weights?.Values ?? Enumerable.Empty<Tensor>()));
            throw;
        }
    }

    static (BeitConfig? Config, ConfigSource Source) FindConfig(BeitCheckpointOptions options, string weightsPath)
    {
        if (options.Config is { } given) return (given, ConfigSource.ConfigFile);
        if (options.ConfigPath is { } configPath) return (BeitConfig.Load(configPath), ConfigSource.ConfigFile);
        string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, "config.json");
        if (File.Exists(beside)) return (BeitConfig.Load(beside), ConfigSource.ConfigFile);
        if (options.Preset is { } preset) return (BeitConfig.FromPreset(preset), ConfigSource.Preset);
        return (null, ConfigSource.None);
    }

    /// <summary>A checkpoint from weights already under Hugging Face names (a model zip's entry); the checkpoint owns them.</summary>
    internal static BeitCheckpoint FromWeights(string source, BeitConfig config, BeitArchitecture architecture, Dictionary<string, Tensor> weights) =>
        new(source, config, architecture, BeitCheckpointLayout.HuggingFace, weights);

    /// <summary>
    /// Builds the model the checkpoint holds (<see cref="BeitModel"/>, <see cref="BeitForImageClassification"/>,
    /// <see cref="BeitForMaskedImageModeling"/> or <see cref="BeitForSemanticSegmentation"/>) and loads the weights into it, in evaluation mode.
    /// </summary>
    /// <exception cref="BeitCheckpointMismatchException">The weights do not fit the config.</exception>
    public nn.Module CreateModel()
    {
        nn.Module model = Architecture switch
        {
            BeitArchitecture.ImageClassification => new BeitForImageClassification(Config),
            BeitArchitecture.MaskedImageModeling => new BeitForMaskedImageModeling(Config),
            BeitArchitecture.SemanticSegmentation => new BeitForSemanticSegmentation(Config),
            // A backbone saved without its pooler (a pretraining result) loads without one.
            _ => new BeitModel(Config, addPoolingLayer: _weights.Keys.Any(k => k.StartsWith("beit.pooler.", StringComparison.Ordinal)) || !Config.UseMeanPooling),
        };
        try
        {
            // A bare BeitModel names its parameters without the "beit." prefix, as Hugging Face does.
            var weights = Architecture == BeitArchitecture.Backbone ? StripBackbonePrefix(_weights) : _weights;
            BeitStateDict.Load(model, weights, Source);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Saves a model in the Hugging Face layout (config.json + model.safetensors) so that Hugging Face
    /// <c>from_pretrained</c> and this class read it back.
    /// </summary>
    public static void Save(nn.Module model, string directory)
    {
        var (config, architecture) = Describe(model);
        Directory.CreateDirectory(directory);
        var saved = config.Clone();
        saved.Architectures = [architecture switch
        {
            BeitArchitecture.ImageClassification => "BeitForImageClassification",
            BeitArchitecture.MaskedImageModeling => "BeitForMaskedImageModeling",
            BeitArchitecture.SemanticSegmentation => "BeitForSemanticSegmentation",
            _ => "BeitModel",
        }];
        using var scope = NewDisposeScope();
        var stateDict = model.state_dict().ToDictionary(p => p.Key, p => p.Value);
        SafetensorsFile.Write(Path.Combine(directory, "model.safetensors"), stateDict, new Dictionary<string, string> { ["format"] = "pt" });
        saved.Save(Path.Combine(directory, "config.json"));
    }

    /// <summary>The config and kind of a model built by this library.</summary>
    /// <exception cref="ArgumentException">The module is not a BEiT model of this library.</exception>
    public static (BeitConfig Config, BeitArchitecture Architecture) Describe(nn.Module model) => model switch
    {
        BeitForImageClassification c => (c.Config, BeitArchitecture.ImageClassification),
        BeitForMaskedImageModeling m => (m.Config, BeitArchitecture.MaskedImageModeling),
        BeitForSemanticSegmentation s => (s.Config, BeitArchitecture.SemanticSegmentation),
        BeitModel b => (b.Config, BeitArchitecture.Backbone),
        _ => throw new ArgumentException($"{model.GetType().Name} is not a BEiT model of this library.", nameof(model)),
    };

    /// <summary>Disposes the weights.</summary>
    public void Dispose()
    {
        foreach (var t in _weights.Values) t.Dispose();
        _weights.Clear();
    }

    static string FindWeightsInDirectory(string directory)
    {
        foreach (var name in new[] { "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin" })
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(
            $"{directory} holds no model.safetensors, model.safetensors.index.json or pytorch_model.bin.", Path.Combine(directory, "model.safetensors"));
    }

    /// <summary>Reads the raw state dict of one weights file, whatever its format (told by content, not extension).</summary>
    internal static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        if (path.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase))
            return ReadShards(path);
        Span<byte> head = stackalloc byte[9];
        long length;
        using (var probe = File.OpenRead(path))
        {
            length = probe.Length;
            probe.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        // torch.save writes a zip archive ("PK"); safetensors starts with its header length, then '{'.
        if (head[0] == (byte)'P' && head[1] == (byte)'K')
            return StateDictFromPickle(path, TorchPickleReader.Load(path));
        bool safetensors = head[8] == (byte)'{' && BitConverter.ToUInt64(head[..8]) < (ulong)length;
        if (!safetensors && head[0] == 0x80)
            return StateDictFromPickle(path, TorchPickleReader.Load(path)); // explains the legacy format
        return SafetensorsFile.Read(path);
    }

    static Dictionary<string, Tensor> ReadShards(string indexPath)
    {
        var index = JsonNode.Parse(File.ReadAllText(indexPath))?["weight_map"]?.AsObject()
            ?? throw new InvalidDataException($"{indexPath} has no weight_map.");
        string directory = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var result = new Dictionary<string, Tensor>();
        foreach (var shard in index.Select(p => p.Value!.GetValue<string>()).Distinct())
        {
            if (shard.Contains("..") || Path.IsPathRooted(shard))
                throw new InvalidDataException($"{indexPath} names shard '{shard}' outside its directory.");
            foreach (var (key, tensor) in SafetensorsFile.Read(Path.Combine(directory, shard)))
                result[key] = tensor;
        }
        return result;
    }

    static Dictionary<string, Tensor> StateDictFromPickle(string path, object? root)
    {
        // unilm saves {"model": state_dict, ...} (DeepSpeed {"module": ...}); others a plain state dict.
        object? candidate = root;
        if (root is Dictionary<object, object?> top)
            foreach (var wrapper in new[] { "model", "module", "state_dict" })
                if (top.TryGetValue(wrapper, out var inner) && inner is Dictionary<object, object?>)
                {
                    candidate = inner;
                    break;
                }
        if (candidate is not Dictionary<object, object?> dict)
            throw new InvalidDataException($"{path} does not hold a state dict (a dict of tensors), nor one under 'model' or 'module'.");
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, value) in dict)
        {
            if (key is not string name || value is not Tensor tensor)
            {
                DisposeTensorsExcept(root, []);
                throw new InvalidDataException(
                    $"{path}: entry '{key}' of the state dict is a {value?.GetType().Name ?? "None"}, not a tensor; only tensors are accepted.");
            }
            result[name] = tensor;
        }
        // Optimizer state, EMA weights and anything else the file held are not kept: free them now.
        DisposeTensorsExcept(root, new HashSet<Tensor>(result.Values, ReferenceEqualityComparer.Instance));
        // Weights saved from DistributedDataParallel carry a "module." prefix on every key.
        if (result.Count > 0 && result.Keys.All(k => k.StartsWith("module.", StringComparison.Ordinal)))
            result = result.ToDictionary(p => p.Key["module.".Length..], p => p.Value);
        return result;
    }

    static void DisposeTensorsExcept(object? value, HashSet<Tensor> kept)
    {
        switch (value)
        {
            case Tensor t when !kept.Contains(t): t.Dispose(); break;
            case Dictionary<object, object?> d: foreach (var v in d.Values) DisposeTensorsExcept(v, kept); break;
            case List<object?> l: foreach (var v in l) DisposeTensorsExcept(v, kept); break;
            case object?[] a: foreach (var v in a) DisposeTensorsExcept(v, kept); break;
        }
    }

    static Dictionary<string, Tensor> AddBackbonePrefix(Dictionary<string, Tensor> weights)
    {
        bool bareBackbone = !weights.Keys.Any(k => k.StartsWith("beit.", StringComparison.Ordinal))
            && weights.Keys.Any(k => k.StartsWith("embeddings.", StringComparison.Ordinal));
        return bareBackbone ? weights.ToDictionary(p => "beit." + p.Key, p => p.Value) : weights;
    }

    static Dictionary<string, Tensor> StripBackbonePrefix(IReadOnlyDictionary<string, Tensor> weights) =>
        weights.ToDictionary(p => p.Key.StartsWith("beit.", StringComparison.Ordinal) ? p.Key["beit.".Length..] : p.Key, p => p.Value);

    // The key map makes new tensors for split q/k/v weights; the fused originals are no longer needed.
    static void DisposeReplaced(Dictionary<string, Tensor> raw, Dictionary<string, Tensor> mapped)
    {
        var kept = new HashSet<Tensor>(mapped.Values, ReferenceEqualityComparer.Instance);
        foreach (var t in raw.Values)
            if (!kept.Contains(t)) t.Dispose();
    }

    // NaN or infinite weights make every output NaN, far from where they came from: refuse them at the door.
    static void CheckFinite(Dictionary<string, Tensor> weights, string source)
    {
        foreach (var (key, tensor) in weights)
        {
            if (!tensor.is_floating_point()) continue;
            using var scope = NewDisposeScope();
            if (!tensor.isfinite().all().item<bool>())
                throw new InvalidDataException($"{source}: weight '{key}' holds NaN or infinite values; the checkpoint is corrupt or was saved from a diverged run.");
        }
    }

    // Stored index buffers are derived data: they must equal the index for the config's grid (else the
    // checkpoint was made for another image or patch size) and are then dropped, as Hugging Face does.
    static void DropAndCheckRelativePositionIndex(Dictionary<string, Tensor> weights, BeitConfig config, string source)
    {
        var expected = BeitRelativePositionBias.ComputeIndex(config.PatchGridSize, config.PatchGridSize);
        foreach (var key in weights.Keys.Where(k => k.EndsWith("relative_position_index", StringComparison.Ordinal)).ToList())
        {
            using var scope = NewDisposeScope();
            var stored = weights[key];
            weights.Remove(key);
            long tokens = config.NumPatches + 1;
            bool same = stored.numel() == expected.Length && stored.shape.SequenceEqual(new[] { tokens, tokens })
                && stored.to(ScalarType.Int64).data<long>().ToArray().AsSpan().SequenceEqual(expected);
            if (!same)
                throw new InvalidDataException(
                    $"{source}: '{key}' does not match the relative position index of a {config.PatchGridSize}x{config.PatchGridSize} patch grid; " +
                    "the checkpoint was made for another image or patch size.");
        }
    }
}
