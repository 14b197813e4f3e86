using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The BEiT architecture, read from and written to a Hugging Face <c>config.json</c>
/// (<c>model_type: beit</c>). Property names follow the JSON keys; defaults are Hugging Face's.
/// Fields this class does not know are kept and written back unchanged.
/// </summary>
public sealed class BeitConfig
{
    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Always <c>beit</c>.</summary>
    [JsonPropertyName("model_type")] public string ModelType { get; set; } = "beit";

    /// <summary>Hugging Face class names this checkpoint was saved from, e.g. <c>BeitForImageClassification</c>.</summary>
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }

    /// <summary>Size of the visual-token vocabulary predicted by the masked-image-modeling head. Default 8192.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 8192;

    /// <summary>Width of the token embeddings (D). Default 768.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 768;

    /// <summary>Number of transformer blocks. Default 12.</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 12;

    /// <summary>Number of attention heads per block. Default 12.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 12;

    /// <summary>Width of the MLP inside each block. Default 3072.</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 3072;

    /// <summary>MLP activation: <c>gelu</c> (exact), <c>gelu_new</c>/<c>gelu_pytorch_tanh</c>, <c>quick_gelu</c>, <c>relu</c>, <c>silu</c>/<c>swish</c>. Default <c>gelu</c>.</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "gelu";

    /// <summary>Dropout after the attention and MLP projections during training. Default 0.</summary>
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; set; }

    /// <summary>Dropout on the attention probabilities during training. Default 0.</summary>
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; set; }

    /// <summary>Standard deviation of the truncated-normal weight initialisation. Default 0.02.</summary>
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; set; } = 0.02;

    /// <summary>LayerNorm epsilon. Default 1e-12 (Hugging Face); the unilm models use 1e-6.</summary>
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; set; } = 1e-12;

    /// <summary>Side of the (square) input image in pixels. Default 224.</summary>
    [JsonPropertyName("image_size")] public int ImageSize { get; set; } = 224;

    /// <summary>Side of a (square) patch in pixels. Default 16.</summary>
    [JsonPropertyName("patch_size")] public int PatchSize { get; set; } = 16;

    /// <summary>Input channels. Default 3.</summary>
    [JsonPropertyName("num_channels")] public int NumChannels { get; set; } = 3;

    /// <summary>Whether the embeddings hold a mask token (masked image modeling). Default false.</summary>
    [JsonPropertyName("use_mask_token")] public bool UseMaskToken { get; set; }

    /// <summary>Whether learned absolute position embeddings are added to the tokens. Default false.</summary>
    [JsonPropertyName("use_absolute_position_embeddings")] public bool UseAbsolutePositionEmbeddings { get; set; }

    /// <summary>Whether every block has its own relative position bias table. Default false.</summary>
    [JsonPropertyName("use_relative_position_bias")] public bool UseRelativePositionBias { get; set; }

    /// <summary>Whether one relative position bias table is shared by all blocks. Default false.</summary>
    [JsonPropertyName("use_shared_relative_position_bias")] public bool UseSharedRelativePositionBias { get; set; }

    /// <summary>Initial value of the layer-scale vectors (<c>lambda_1</c>, <c>lambda_2</c>); 0 or less disables layer scale. Default 0.1.</summary>
    [JsonPropertyName("layer_scale_init_value")] public double LayerScaleInitValue { get; set; } = 0.1;

    /// <summary>Largest stochastic-depth rate; block i drops its residual branch with rate i/(L-1) of this during training. Default 0.1.</summary>
    [JsonPropertyName("drop_path_rate")] public double DropPathRate { get; set; } = 0.1;

    /// <summary>Pool by averaging the patch tokens then a LayerNorm (true), or take the final-normed CLS token (false). Default true.</summary>
    [JsonPropertyName("use_mean_pooling")] public bool UseMeanPooling { get; set; } = true;

    /// <summary>Segmentation: pyramid-pooling scales of the UperNet head. Default [1, 2, 3, 6].</summary>
    [JsonPropertyName("pool_scales")] public List<int> PoolScales { get; set; } = [1, 2, 3, 6];

    /// <summary>Segmentation: whether the FCN auxiliary head is used in training. Default true.</summary>
    [JsonPropertyName("use_auxiliary_head")] public bool UseAuxiliaryHead { get; set; } = true;

    /// <summary>Segmentation: weight of the auxiliary loss. Default 0.4.</summary>
    [JsonPropertyName("auxiliary_loss_weight")] public double AuxiliaryLossWeight { get; set; } = 0.4;

    /// <summary>Segmentation: channels of the auxiliary head. Default 256.</summary>
    [JsonPropertyName("auxiliary_channels")] public int AuxiliaryChannels { get; set; } = 256;

    /// <summary>Segmentation: convolutions in the auxiliary head. Default 1.</summary>
    [JsonPropertyName("auxiliary_num_convs")] public int AuxiliaryNumConvs { get; set; } = 1;

    /// <summary>Segmentation: whether the auxiliary head concatenates its input to its output. Default false.</summary>
    [JsonPropertyName("auxiliary_concat_input")] public bool AuxiliaryConcatInput { get; set; }

    /// <summary>Segmentation: label id ignored by the loss. Default 255.</summary>
    [JsonPropertyName("semantic_loss_ignore_index")] public int SemanticLossIgnoreIndex { get; set; } = 255;

    /// <summary>Segmentation: 1-based indices of the blocks whose features feed the UperNet necks. Default [3, 5, 7, 11].</summary>
    [JsonPropertyName("out_indices")] public List<int> OutIndices { get; set; } = [3, 5, 7, 11];

    /// <summary>
    /// Segmentation: how <see cref="OutIndices"/> picks hidden states. Null or <c>"huggingface"</c>: index k takes
    /// <c>hidden_states[k - 1]</c>, as Hugging Face <c>BeitForSemanticSegmentation</c> does (HF checkpoints need this).
    /// <c>"unilm"</c>: index k takes the output of block k (0-based), <c>hidden_states[k + 1]</c>, as the original
    /// unilm/mmseg code does (its checkpoints need this). Not a Hugging Face field; written only when set. Default null.
    /// </summary>
    [JsonPropertyName("out_indices_convention")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? OutIndicesConvention { get; set; }

    /// <summary>Whether <see cref="OutIndices"/> follows the unilm convention (see <see cref="OutIndicesConvention"/>).</summary>
    [JsonIgnore] public bool UsesUnilmOutIndices => string.Equals(OutIndicesConvention, "unilm", StringComparison.OrdinalIgnoreCase);

    /// <summary>Class names by class id; their count is the number of classes of a classification or segmentation head.</summary>
    [JsonPropertyName("id2label")] public Dictionary<int, string>? Id2Label { get; set; }

    /// <summary>Class ids by class name (the inverse of <see cref="Id2Label"/>).</summary>
    [JsonPropertyName("label2id")] public Dictionary<string, int>? Label2Id { get; set; }

    /// <summary>Keys of the JSON file this class does not model; written back unchanged.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? AdditionalProperties { get; set; }

    /// <summary>Patches per side: <see cref="ImageSize"/> / <see cref="PatchSize"/>.</summary>
    [JsonIgnore] public int PatchGridSize => ImageSize / PatchSize;

    /// <summary>Number of patch tokens (the sequence length without the CLS token).</summary>
    [JsonIgnore] public int NumPatches => PatchGridSize * PatchGridSize;

    /// <summary>Width of one attention head.</summary>
    [JsonIgnore] public int HeadSize => HiddenSize / NumAttentionHeads;

    /// <summary>Number of classes in <see cref="Id2Label"/> (0 when there is none).</summary>
    [JsonIgnore] public int NumLabels => Id2Label?.Count ?? 0;

    /// <summary>BEiT-base as <c>microsoft/beit-base-patch16-224-pt22k</c>: 768 wide, 12 blocks, 12 heads, shared relative position bias, mask token, mean pooling.</summary>
    public static BeitConfig Base => PreTrained(hidden: 768, layers: 12, heads: 12, intermediate: 3072);

    /// <summary>BEiT-large as <c>microsoft/beit-large-patch16-224-pt22k</c>: 1024 wide, 24 blocks, 16 heads, MLP 4096, shared relative position bias, mask token, mean pooling.</summary>
    public static BeitConfig Large => PreTrained(hidden: 1024, layers: 24, heads: 16, intermediate: 4096);

    /// <summary>
    /// A tiny model for tests, smoke runs and small data trained from scratch: 32x32 images, 8x8 patches, 48 wide, 3 blocks,
    /// 4 heads, per-block relative position bias, initial weights drawn with std 0.3.
    /// </summary>
    public static BeitConfig Tiny => new()
    {
        // BEiT's 0.02 suits 768-wide blocks. In 48-wide ones it makes the attention logits and residual updates so small
        // that a model trained from scratch hardly moves: on a 6-class shapes set, 15 epochs reached 0.19 validation
        // accuracy with 0.02 and 0.35 with 0.3 (0.25 with 0.08, 0.30 with 0.16, 0.25 with 0.5).
        InitializerRange = 0.3,
        ImageSize = 32, PatchSize = 8, HiddenSize = 48, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 192,
        VocabSize = 64, UseMaskToken = true, UseRelativePositionBias = true, LayerNormEps = 1e-6, OutIndices = [1, 2, 3, 4], AuxiliaryChannels = 32,
    };

    /// <summary>The preset names <see cref="FromPreset"/> knows.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "base", "large"];

    /// <summary>A preset by name (<c>tiny</c>, <c>base</c>, <c>large</c>; case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is not a preset.</exception>
    public static BeitConfig FromPreset(string name) => name.Trim().ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "base" => Base,
        "large" => Large,
        _ => throw new ArgumentException($"'{name}' is not a BEiT preset; expected one of {string.Join(", ", PresetNames)}.", nameof(name)),
    };

    static BeitConfig PreTrained(int hidden, int layers, int heads, int intermediate) => new()
    {
        HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, IntermediateSize = intermediate,
        UseMaskToken = true, UseSharedRelativePositionBias = true, UseMeanPooling = true, VocabSize = 8192,
        LayerNormEps = 1e-12, LayerScaleInitValue = 0.1, DropPathRate = 0.1,
        OutIndices = layers == 24 ? [7, 11, 15, 23] : [3, 5, 7, 11],
        Architectures = ["BeitForMaskedImageModeling"],
    };

    /// <summary>Parses a <c>config.json</c> text.</summary>
    /// <exception cref="InvalidDataException">The text is not a BEiT config.</exception>
    public static BeitConfig FromJson(string json, string source = "config.json")
    {
        BeitConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<BeitConfig>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not a valid BEiT config: {e.Message}", e);
        }
        if (config is null)
            throw new InvalidDataException($"{source} is empty.");
        if (!string.Equals(config.ModelType, "beit", StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{source} has model_type '{config.ModelType}'; this library reads BEiT configs (model_type 'beit').");
        config.Validate(source);
        return config;
    }

    /// <summary>Reads a <c>config.json</c> file.</summary>
    public static BeitConfig Load(string path) => FromJson(File.ReadAllText(path), path);

    /// <summary>The config as Hugging Face <c>config.json</c> text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes the config as a Hugging Face <c>config.json</c> file.</summary>
    public void Save(string path) => File.WriteAllText(path, ToJson());

    /// <summary>A deep copy.</summary>
    public BeitConfig Clone() => FromJson(ToJson(), "a BEiT config");

    /// <summary>Sets <see cref="Id2Label"/> and <see cref="Label2Id"/> from class names in id order.</summary>
    public void SetLabels(IReadOnlyList<string> labels)
    {
        Id2Label = labels.Select((name, id) => (name, id)).ToDictionary(p => p.id, p => p.name);
        Label2Id = labels.Select((name, id) => (name, id)).ToDictionary(p => p.name, p => p.id);
    }

    /// <summary>Checks that the sizes fit together.</summary>
    /// <exception cref="InvalidDataException">A size is out of range or sizes do not divide.</exception>
    public void Validate(string source = "BEiT config")
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new InvalidDataException($"{source}: {message}");
        }
        Require(HiddenSize > 0 && NumHiddenLayers > 0 && NumAttentionHeads > 0 && IntermediateSize > 0,
            $"sizes must be positive (hidden_size {HiddenSize}, num_hidden_layers {NumHiddenLayers}, num_attention_heads {NumAttentionHeads}, intermediate_size {IntermediateSize}).");
        Require(HiddenSize % NumAttentionHeads == 0,
            $"hidden size {HiddenSize} is not divisible by {NumAttentionHeads} attention heads.");
        Require(ImageSize > 0 && PatchSize > 0 && ImageSize % PatchSize == 0,
            $"image size {ImageSize} is not a positive multiple of patch size {PatchSize}.");
        Require(NumChannels > 0, $"num_channels {NumChannels} must be positive.");
        Require(LayerNormEps > 0, $"layer_norm_eps {LayerNormEps} must be positive.");
        Require(DropPathRate is >= 0 and < 1, $"drop_path_rate {DropPathRate} must be in [0, 1).");
        BeitActivation.Validate(HiddenAct, source);
        Require(OutIndicesConvention is null || UsesUnilmOutIndices || OutIndicesConvention.Equals("huggingface", StringComparison.OrdinalIgnoreCase),
            $"out_indices_convention '{OutIndicesConvention}' is not 'huggingface' or 'unilm'.");
    }

    /// <summary>
    /// Floating-point operations of one image's forward pass through the backbone (2 x multiply-adds): the patch embedding and,
    /// per block, q/k/v, attention scores and weighting, the output projection and the MLP. BEiT-base at 224: 35.1 GFLOP.
    /// </summary>
    public double ForwardFlopsPerImage()
    {
        double patches = NumPatches, tokens = patches + 1, d = HiddenSize;
        double embedding = 2 * patches * (NumChannels * PatchSize * PatchSize) * d;
        double block = 2 * tokens * d * 3 * d + 4 * tokens * tokens * d + 2 * tokens * d * d + 4 * tokens * d * IntermediateSize;
        return embedding + NumHiddenLayers * block;
    }

    /// <summary>The config as a JSON object, for embedding it in other documents.</summary>
    public JsonObject ToJsonObject() => JsonNode.Parse(ToJson())!.AsObject();
}
