using System.Reflection;
using Google.Protobuf;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Scoring;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>
/// Writes a BEiT model of this library as an ONNX file that ONNX Runtime (or any ONNX host, such as ML.NET's
/// <c>ApplyOnnxModel</c>) scores without LibTorch. The graph is built directly from the config and the weights:
/// ONNX IR version <see cref="IrVersion"/>, default-domain opset <see cref="Opset"/>, weights as initializers.
/// </summary>
/// <remarks>
/// <para>Input: <c>pixel_values</c>, float32 [batch, channels, image_size, image_size], preprocessed as for the
/// TorchSharp model (for pt22k-style models: RGB / 255, then (x - 0.5) / 0.5). The batch dimension is symbolic
/// (<c>batch</c>); the image size is fixed by the config.</para>
/// <para>Outputs: for <see cref="BeitModel"/> and <see cref="BeitForImageClassification"/>, <c>features</c> float32
/// [batch, hidden] (or [batch, patches * hidden] for <see cref="BeitPooling.Tokens"/>), the pooled features (see
/// <see cref="BeitOnnxExportOptions.Pooling"/>); for a classifier also <c>logits</c> [batch, classes] and
/// <c>probabilities</c> [batch, classes] (their softmax, as the <c>Score</c> column); on request
/// <c>last_hidden_state</c> [batch, 1 + patches, hidden].</para>
/// <para><see cref="BeitForMaskedImageModeling"/>: <c>logits</c> [batch, patches, vocab] for every patch, and on
/// request the input <c>bool_masked_pos</c> (<see cref="BeitOnnxExportOptions.IncludeMaskInput"/>).
/// <see cref="BeitForSemanticSegmentation"/>: <c>logits</c> [batch, classes, image_size / 4, image_size / 4] as the
/// model returns them (the auxiliary head, used only in training, is left out), and on request
/// <c>upsampled_logits</c> at the input's size (<see cref="BeitOnnxExportOptions.IncludeUpsampledLogits"/>).
/// With <see cref="BeitOnnxExportOptions.FeaturesOnly"/> both export their backbone's <c>features</c> instead.</para>
/// <para>The file's metadata holds the config (<c>beit.config</c>), the architecture, the pooling and, when given,
/// the preprocessing (<c>beit.preprocessor</c>), and for a quantized graph its quantization (<see cref="QuantizationKey"/>).</para>
/// <para>With <see cref="BeitOnnxExportOptions.Quantization"/> = <see cref="BeitOnnxQuantization.Int8Dynamic"/> the backbone's
/// linear layers hold int8 weights and run as DynamicQuantizeLinear, MatMulInteger,
/// Cast and Mul, all default-domain operators of the same opset; the inputs and outputs do not change.</para>
/// </remarks>
public static class BeitOnnxExporter
{
    /// <summary>The ONNX IR version written (8: ONNX 1.10+, every ONNX Runtime since 1.10).</summary>
    public const long IrVersion = 8;

    /// <summary>The default-domain opset the graph uses (17: the first with LayerNormalization).</summary>
    public const long Opset = 17;

    /// <summary>Name of the graph input: float32 [batch, channels, image_size, image_size].</summary>
    public const string PixelValues = "pixel_values";

    /// <summary>Name of the pooled features output: float32 [batch, hidden].</summary>
    public const string Features = "features";

    /// <summary>
    /// Name of the head's logits output: float32 [batch, classes] for a classifier, [batch, patches, vocab] for masked
    /// image modeling, [batch, classes, image_size / 4, image_size / 4] for semantic segmentation.
    /// </summary>
    public const string Logits = "logits";

    /// <summary>Name of the classifier's class probabilities output (softmax of the logits): float32 [batch, classes].</summary>
    public const string Probabilities = "probabilities";

    /// <summary>Name of the masked-image-modeling model's optional mask input: float32 [batch, patches], 1 = masked.</summary>
    public const string BoolMaskedPos = "bool_masked_pos";

    /// <summary>Name of the segmentation model's optional output at the input's size: float32 [batch, classes, image_size, image_size].</summary>
    public const string UpsampledLogits = "upsampled_logits";

    /// <summary>Name of the optional sequence output: float32 [batch, 1 + patches, hidden].</summary>
    public const string LastHiddenState = "last_hidden_state";

    /// <summary>
    /// The most initializer bytes <see cref="Save"/> writes inline: protobuf messages are limited to 2 GB. Larger models are
    /// written with ONNX external data (the weights in a <c>.data</c> file beside the graph).
    /// </summary>
    public const long MaxInlineBytes = 2_000_000_000;

    /// <summary>Initializers smaller than this stay inline when <see cref="Save"/> writes external data (as the ONNX tools do).</summary>
    public const int ExternalDataMinBytes = 1024;

    /// <summary>
    /// The metadata key that names the quantization of a quantized graph (<c>Int8Dynamic</c>); float32 graphs do not have it.
    /// </summary>
    public const string QuantizationKey = "beit.quantization";

    /// <summary>The quantization of a graph written by this exporter, from its metadata.</summary>
    internal static BeitOnnxQuantization QuantizationOf(ModelProto model) =>
        model.MetadataProps.FirstOrDefault(p => p.Key == QuantizationKey) is { } entry && Enum.TryParse<BeitOnnxQuantization>(entry.Value, out var q)
            ? q : BeitOnnxQuantization.None;

    /// <summary>Builds the ONNX model of a loaded checkpoint (see <see cref="BeitCheckpoint.Load"/>).</summary>
    /// <exception cref="NotSupportedException">The checkpoint holds a model this exporter does not support yet.</exception>
    public static ModelProto Build(BeitCheckpoint checkpoint, BeitOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return Build(checkpoint.Config, checkpoint.Architecture, checkpoint.Weights, options, checkpoint.Source);
    }

    /// <summary>Builds the ONNX model of a TorchSharp model of this library (its current weights).</summary>
    /// <exception cref="ArgumentException">The module is not a BEiT model of this library.</exception>
    /// <exception cref="NotSupportedException">The model is of a kind this exporter does not support yet.</exception>
    public static ModelProto Build(nn.Module model, BeitOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (config, architecture) = BeitCheckpoint.Describe(model);
        using var scope = NewDisposeScope();
        var stateDict = model.state_dict();
        // A bare BeitModel names its parameters without the "beit." prefix; the exporter reads the prefixed names.
        var weights = architecture == BeitArchitecture.Backbone
            ? stateDict.ToDictionary(p => "beit." + p.Key, p => p.Value)
            : stateDict.ToDictionary(p => p.Key, p => p.Value);
        return Build(config, architecture, weights, options, $"the {model.GetType().Name}");
    }

    /// <summary>
    /// Builds the ONNX model of a fitted ML.NET model written by this library, such as one loaded from a model zip with
    /// <c>MLContext.Model.Load</c>: its last <see cref="BeitImageClassificationTransformer"/>,
    /// <see cref="BeitFeaturizerTransformer"/> or <see cref="BeitSemanticSegmentationTransformer"/> (<paramref name="model"/>
    /// is a transformer chain or one transformer). A classifier exports its <c>logits</c> and <c>probabilities</c>, a
    /// segmenter its <c>logits</c>, a featurizer its <c>features</c> with the pooling, layer and L2 normalization it was
    /// fitted with (an explicit <see cref="BeitOnnxExportOptions.Pooling"/>, a <see cref="BeitOnnxExportOptions.Layer"/>
    /// other than -1, or <see cref="BeitOnnxExportOptions.NormalizeL2"/> wins). The transformer's preprocessing goes into the
    /// metadata. A transformer that already scores through ONNX Runtime (<see cref="BeitBackend.Onnx"/>) returns the graph
    /// it scores with, and <paramref name="options"/> are not applied. <paramref name="options"/> is not modified, and the
    /// model stays usable: the caller still disposes it. Write the result with <see cref="Save"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The model holds no BEiT classifier, featurizer or segmenter.</exception>
    /// <exception cref="NotSupportedException">An option does not apply to the model (e.g. a mask input for a classifier).</exception>
    public static ModelProto Build(ITransformer model, BeitOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var transformers = model is IEnumerable<ITransformer> chain ? chain.ToList() : [model];
        var beit = transformers.LastOrDefault(t => t is BeitImageClassificationTransformer or BeitFeaturizerTransformer or BeitSemanticSegmentationTransformer)
            ?? throw new ArgumentException("The model holds no BEiT classifier, featurizer or segmenter; it was not written by this library.", nameof(model));
        if (beit is BeitImageTransformer { OnnxModelBytes: { } stored })
        {
            var graph = ModelProto.Parser.ParseFrom(stored);
            var wanted = options?.Quantization ?? BeitOnnxQuantization.None;
            var present = QuantizationOf(graph);
            if (wanted != BeitOnnxQuantization.None && present != wanted)
                throw new NotSupportedException($"The model already scores through ONNX Runtime with a {(present == BeitOnnxQuantization.None ? "float32" : present.ToString())} " +
                    $"graph, which is not re-quantized to {wanted}; quantize when converting its TorchSharp model (ToOnnxBackend with quantization {wanted}, or export its TorchSharp model zip).");
            return graph;
        }
        var copy = options?.Clone() ?? new BeitOnnxExportOptions();
        switch (beit)
        {
            case BeitImageClassificationTransformer classifier:
                copy.Preprocessor = classifier.Engine.Processor.Config;
                return Build(classifier.TorchEngine.Model, copy);
            case BeitSemanticSegmentationTransformer segmenter:
                copy.Preprocessor = segmenter.Engine.Processor.Config;
                return Build(segmenter.TorchEngine.Model, copy);
            default:
                var featurizer = (BeitFeaturizerTransformer)beit;
                var engine = featurizer.TorchEngine;
                copy.FeaturesOnly = true;
                copy.Pooling ??= engine.Pooling;
                copy.Layer = copy.Layer == -1 ? engine.LayerOption : copy.Layer;
                copy.NormalizeL2 |= engine.NormalizeL2;
                copy.Preprocessor = featurizer.Preprocessor;
                return Build(engine.Model, copy);
        }
    }

    /// <summary>
    /// Builds the ONNX model from a config, the kind of model, and its weights under Hugging Face names with the
    /// <c>beit.</c> prefix on backbone weights (as <see cref="BeitCheckpoint.Weights"/> holds them).
    /// </summary>
    /// <exception cref="NotSupportedException">The architecture is not supported yet.</exception>
    /// <exception cref="InvalidDataException">A weight the config needs is missing or mis-shaped.</exception>
    public static ModelProto Build(BeitConfig config, BeitArchitecture architecture, IReadOnlyDictionary<string, Tensor> weights,
        BeitOnnxExportOptions? options = null) =>
        Build(config, architecture, weights, options, "the weights");

    static ModelProto Build(BeitConfig config, BeitArchitecture architecture, IReadOnlyDictionary<string, Tensor> weights,
        BeitOnnxExportOptions? options, string source)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        options ??= new BeitOnnxExportOptions();
        options.Validate();
        config.Validate();
        bool classifier = architecture == BeitArchitecture.ImageClassification && !options.FeaturesOnly;
        bool maskedImageModelingHead = architecture == BeitArchitecture.MaskedImageModeling && !options.FeaturesOnly;
        bool segmentationHead = architecture == BeitArchitecture.SemanticSegmentation && !options.FeaturesOnly;
        if (options.IncludeMaskInput && !maskedImageModelingHead)
            throw new NotSupportedException($"IncludeMaskInput applies to BeitForMaskedImageModeling only (without FeaturesOnly), not to {HuggingFaceName(architecture)}.");
        if (!Enum.IsDefined(architecture))
            throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "Unknown BEiT architecture.");

        int layers = config.NumHiddenLayers;
        // The featurizer's layer rules; the pooling itself is chosen below, since the export's default differs.
        var spec = FeatureSpec.Of(config, options.Pooling ?? BeitPooling.Mean, options.Layer, nameof(options));
        int featureLayer = spec.Layer;
        bool lastLayer = spec.IsLastLayer;
        // A graph that outputs only the features of an earlier block stops there.
        bool onlyFeatures = !classifier && !maskedImageModelingHead && !segmentationHead && !options.IncludeLastHiddenState;
        int blocks = onlyFeatures && !lastLayer ? featureLayer : layers;

        var builder = new OnnxGraphBuilder(classifier || maskedImageModelingHead || segmentationHead ? HuggingFaceName(architecture) : "BeitFeatures");
        var net = new BeitOnnxGraph(builder, config, new BeitOnnxWeights(weights, source), options.Quantization);
        var batch = "batch";
        var pixels = builder.Input(PixelValues,
            $"float32 [batch, {config.NumChannels}, {config.ImageSize}, {config.ImageSize}] preprocessed pixels, channels in RGB order",
            batch, config.NumChannels, config.ImageSize, config.ImageSize);

        var mask = options.IncludeMaskInput
            ? builder.Input(BoolMaskedPos, $"float32 [batch, {config.NumPatches}] 1 where the patch is masked (replaced by the mask token), else 0; row-major over the patch grid",
                batch, config.NumPatches)
            : null;
        var x = net.Embeddings(pixels, mask);
        // hidden[0] is the embedding output and hidden[k] block k-1's output, as Hugging Face's hidden_states.
        var hidden = new List<string> { x };
        // With one shared table every block adds the same bias: one initializer serves them all.
        string? sharedBias = !config.UseRelativePositionBias && net.RelativePositionBias(0) is { } shared
            ? net.BiasInitializer("beit.encoder.relative_position_bias.bias", shared) : null;
        for (int layer = 0; layer < blocks; layer++)
        {
            string? bias = config.UseRelativePositionBias
                ? net.BiasInitializer($"beit.encoder.layer.{layer}.attention.attention.relative_position_bias.bias", net.RelativePositionBias(layer)!)
                : sharedBias;
            x = net.Layer(x, layer, bias);
            hidden.Add(x);
        }
        if (segmentationHead)
        {
            var segmentation = new BeitOnnxSegmentation(builder, config, new BeitOnnxWeights(weights, source));
            segmentation.Build(hidden, options.IncludeUpsampledLogits);
            return Finish(builder, config, architecture, null, options);
        }
        // BeitModel's last_hidden_state: final-normed for CLS-pooling models; raw with mean pooling (the pooler norms).
        var sequence = config.UseMeanPooling ? x : net.LayerNorm(x, "beit.layernorm");
        bool maskedImageModeling = architecture == BeitArchitecture.MaskedImageModeling;
        if (maskedImageModelingHead)
        {
            builder.Output(net.MaskedImageModelingLogits(sequence), Logits,
                $"float32 [batch, {config.NumPatches}, {config.VocabSize}] visual-token logits for every patch (final LayerNorm, then lm_head)",
                batch, config.NumPatches, config.VocabSize);
            AddLastHiddenState(builder, config, options, sequence);
            return Finish(builder, config, architecture, null, options);
        }
        var pooling = options.Pooling ?? (maskedImageModeling || !lastLayer ? BeitPooling.Mean : (BeitPooling?)null);

        string? modelPooled = null;
        string ModelPooled() => modelPooled ??= config.UseMeanPooling
            ? (weights.ContainsKey("beit.pooler.layernorm.weight")
                ? net.LayerNorm(net.MeanOfPatches(sequence, "beit.pooler.mean"), "beit.pooler.layernorm")
                : net.MeanOfPatches(sequence, "beit.pooler.mean"))
            : net.ClsToken(sequence, "beit.pooler.cls");

        // The featurizer's rules at the last layer (BeitFeaturizerEngine): a masked-image-modeling checkpoint's final
        // LayerNorm ("layernorm") plays the final norm.
        string FinalNormed() => maskedImageModeling ? net.LayerNorm(sequence, "layernorm") : sequence;
        string Pooled(BeitPooling p) => p switch
        {
            BeitPooling.ClsAttention => net.ClsAttention(featureLayer, "features.cls_attention"),
            // Earlier layers are pooled raw, as the featurizer pools them.
            BeitPooling.Mean when !lastLayer => net.MeanOfPatches(hidden[featureLayer], "features.mean"),
            BeitPooling.Cls when !lastLayer => net.ClsToken(hidden[featureLayer], "features.cls"),
            BeitPooling.Tokens when !lastLayer => net.FlatPatches(hidden[featureLayer], "features.tokens"),
            BeitPooling.Mean when config.UseMeanPooling && weights.ContainsKey("beit.pooler.layernorm.weight") => ModelPooled(),
            BeitPooling.Mean when maskedImageModeling => net.LayerNorm(net.MeanOfPatches(sequence, "features.mean"), "layernorm"),
            BeitPooling.Mean => net.MeanOfPatches(sequence, "features.mean"),
            BeitPooling.Cls => net.ClsToken(FinalNormed(), "features.cls"),
            BeitPooling.Tokens => net.FlatPatches(FinalNormed(), "features.tokens"),
            _ => throw new ArgumentOutOfRangeException(nameof(options), p, "Unknown pooling."),
        };

        string? pooled = classifier || pooling is null ? ModelPooled() : null;
        var features = pooling is { } chosen ? Pooled(chosen) : pooled!;
        // Attention maps are probabilities, never L2-normalized (as the featurizer returns them).
        bool normalized = options.NormalizeL2 && pooling != BeitPooling.ClsAttention;
        if (normalized)
            features = net.NormalizeL2(features, "features.normalized");
        long featureSize = FeatureSpec.FeatureSizeOf(config, pooling ?? BeitPooling.Mean);

        builder.Output(features, Features, $"float32 [batch, {featureSize}] pooled features ({PoolingDescription(config, pooling, maskedImageModeling)}{(lastLayer || pooling == BeitPooling.ClsAttention ? "" : $" of hidden state {featureLayer}, not final-normed")}{(pooling == BeitPooling.ClsAttention ? $" of block {featureLayer}" : "")}{(normalized ? ", unit L2 norm" : "")})",
            batch, featureSize);
        if (classifier)
        {
            var logits = net.Classifier(pooled!);
            builder.Output(logits, Logits, $"float32 [batch, {config.NumLabels}] class logits; class names in beit.config id2label", batch, config.NumLabels);
            var probabilities = builder.Node("Softmax", "probabilities.softmax", [logits], OnnxGraphBuilder.AttrInt("axis", -1));
            builder.Output(probabilities, Probabilities, $"float32 [batch, {config.NumLabels}] class probabilities (softmax of logits)", batch, config.NumLabels);
        }
        AddLastHiddenState(builder, config, options, sequence);
        return Finish(builder, config, classifier ? BeitArchitecture.ImageClassification : architecture, pooling, options);
    }

    static void AddLastHiddenState(OnnxGraphBuilder builder, BeitConfig config, BeitOnnxExportOptions options, string sequence)
    {
        if (options.IncludeLastHiddenState)
            builder.Output(sequence, LastHiddenState,
                $"float32 [batch, {config.NumPatches + 1}, {config.HiddenSize}] final tokens, CLS first{(config.UseMeanPooling ? "" : ", final-normed")}",
                "batch", config.NumPatches + 1, config.HiddenSize);
    }

    static ModelProto Finish(OnnxGraphBuilder builder, BeitConfig config, BeitArchitecture architecture, BeitPooling? pooling, BeitOnnxExportOptions options) =>
        Model(builder.Graph, config, architecture, pooling, options);

    static ModelProto Model(GraphProto graph, BeitConfig config, BeitArchitecture architecture, BeitPooling? pooling, BeitOnnxExportOptions options)
    {
        var version = typeof(BeitOnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Microsoft.ML.Beit",
            ProducerVersion = version,
            Domain = "microsoft.ml.beit",
            ModelVersion = 1,
            DocString = $"BEiT {HuggingFaceName(architecture)} exported by Microsoft.ML.Beit: {PixelValues}{(options.IncludeMaskInput ? $" and {BoolMaskedPos}" : "")} in, " +
                $"{string.Join(", ", graph.Output.Select(o => o.Name))} out.",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        void Meta(string key, string value) => model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        Meta("beit.config", config.ToJson());
        Meta("beit.architecture", architecture.ToString());
        bool head = !options.FeaturesOnly && architecture is BeitArchitecture.MaskedImageModeling or BeitArchitecture.SemanticSegmentation;
        if (!head)
        {
            Meta("beit.pooling", pooling?.ToString() ?? (config.UseMeanPooling ? "Pooler(Mean)" : "Pooler(Cls)"));
            Meta("beit.layer", options.Layer.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        Meta("beit.normalize_l2", options.NormalizeL2 ? "true" : "false");
        if (options.Quantization != BeitOnnxQuantization.None)
            Meta(QuantizationKey, options.Quantization.ToString());
        if (options.Preprocessor is { } preprocessor)
            Meta("beit.preprocessor", preprocessor.ToJson());
        return model;
    }

    /// <summary>Builds the ONNX model of a checkpoint and writes it to <paramref name="path"/>.</summary>
    public static void Export(BeitCheckpoint checkpoint, string path, BeitOnnxExportOptions? options = null) =>
        Save(Build(checkpoint, options), path);

    /// <summary>Builds the ONNX model of a TorchSharp model of this library and writes it to <paramref name="path"/>.</summary>
    public static void Export(nn.Module model, string path, BeitOnnxExportOptions? options = null) =>
        Save(Build(model, options), path);

    /// <summary>
    /// Builds the ONNX model of a fitted ML.NET model's BEiT classifier, featurizer or segmenter (see
    /// <see cref="Build(ITransformer, BeitOnnxExportOptions?)"/>) and writes it to <paramref name="path"/>.
    /// </summary>
    public static void Export(ITransformer model, string path, BeitOnnxExportOptions? options = null) =>
        Save(Build(model, options), path);

    /// <summary>
    /// Writes an ONNX model to a file, through temporary files so that a failed write leaves no partial model. Weights over
    /// <see cref="MaxInlineBytes"/> in all (or any size, with <paramref name="externalData"/> true) go to ONNX external data:
    /// every initializer of at least <see cref="ExternalDataMinBytes"/> is stored in <c>&lt;file name&gt;.data</c> beside the
    /// file, which must stay beside it; ONNX Runtime reads it when it loads the file by path.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="path">The .onnx file to write.</param>
    /// <param name="externalData">True: external data whatever the size; false: inline (models over 2 GB then fail); null: external only when needed.</param>
    public static void Save(ModelProto model, string path, bool? externalData = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        long weightBytes = WeightBytes(model);
        bool external = externalData ?? weightBytes > MaxInlineBytes;
        if (!external && weightBytes > MaxInlineBytes)
            throw new NotSupportedException($"The model's weights take {weightBytes / 1e9:F2} GB, more than the {MaxInlineBytes / 1e9:F0} GB a single " +
                "ONNX file can hold; save it with external data (externalData: null or true).");
        string dataName = Path.GetFileName(full) + ".data", dataPath = full + ".data";
        var moved = external ? WriteExternalData(model.Graph, dataPath + ".partial", dataName) : [];
        try
        {
            using (var stream = File.Create(full + ".partial"))
                model.WriteTo(stream);
        }
        finally
        {
            // The caller's model keeps its weights inline.
            foreach (var (tensor, data) in moved)
            {
                tensor.RawData = data;
                tensor.DataLocation = TensorProto.Types.DataLocation.Default;
                tensor.ExternalData.Clear();
            }
        }
        if (external) File.Move(dataPath + ".partial", dataPath, overwrite: true);
        else if (File.Exists(dataPath)) File.Delete(dataPath);   // a stale weights file from an earlier external save
        File.Move(full + ".partial", full, overwrite: true);
    }

    /// <summary>The bytes of a model's inline initializers (its weights).</summary>
    internal static long WeightBytes(ModelProto model) => model.Graph.Initializer.Sum(t => (long)t.RawData.Length);

    // Moves large initializers' bytes to the data file and points the tensors at them (location, offset, length).
    static List<(TensorProto Tensor, ByteString Data)> WriteExternalData(GraphProto graph, string path, string location)
    {
        var moved = new List<(TensorProto, ByteString)>();
        using var file = File.Create(path);
        foreach (var tensor in graph.Initializer.Where(t => t.RawData.Length >= ExternalDataMinBytes))
        {
            // 4 KiB alignment lets ONNX Runtime map the file.
            long offset = (file.Position + 4095) / 4096 * 4096;
            file.SetLength(offset);
            file.Position = offset;
            tensor.RawData.WriteTo(file);
            moved.Add((tensor, tensor.RawData));
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.RawData = ByteString.Empty;
        }
        return moved;
    }

    static string HuggingFaceName(BeitArchitecture architecture) => architecture switch
    {
        BeitArchitecture.ImageClassification => "BeitForImageClassification",
        BeitArchitecture.MaskedImageModeling => "BeitForMaskedImageModeling",
        BeitArchitecture.SemanticSegmentation => "BeitForSemanticSegmentation",
        _ => "BeitModel",
    };

    static string PoolingDescription(BeitConfig config, BeitPooling? pooling, bool maskedImageModeling) => pooling switch
    {
        null => config.UseMeanPooling ? "mean of the patch tokens, then the pooler LayerNorm" : "final-normed CLS token",
        BeitPooling.Mean => maskedImageModeling ? "mean of the patch tokens, then the final LayerNorm" : "mean of the patch tokens",
        BeitPooling.Cls => "CLS token",
        BeitPooling.Tokens => "all patch tokens, row-major patches then channels",
        BeitPooling.ClsAttention => "the CLS token's attention to every patch, heads then row-major patches",
        _ => pooling.ToString()!,
    };
}
