using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.ML.Beit.Checkpoints;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// The settings a BEiT transformer writes into its model zip, as JSON with the snake_case keys zips have always had.
/// Keys that zips written by earlier versions lack are optional here and read as what those versions meant (no
/// <c>backend</c>: TorchSharp; no <c>training_recipe</c>: none). <c>config</c> and <c>preprocessor</c> stay JSON
/// objects: <see cref="Modeling.BeitConfig"/> and <see cref="Preprocessing.BeitPreprocessorConfig"/> read them as the
/// Hugging Face files they are.
/// </summary>
internal abstract record BeitZipSettings
{
    static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    [JsonPropertyName("batch_size")] public required int BatchSize { get; init; }
    [JsonPropertyName("device")] public string Device { get; init; } = "auto";
    [JsonPropertyName("invalid_image")] public required BeitInvalidImageHandling InvalidImage { get; init; }
    [JsonPropertyName("config")] public required JsonObject Config { get; init; }
    [JsonPropertyName("preprocessor")] public required JsonObject Preprocessor { get; init; }
    [JsonPropertyName("backend")] public BeitBackend Backend { get; init; } = BeitBackend.TorchSharp;
    [JsonPropertyName("threads")] public int? Threads { get; init; }
    [JsonPropertyName("training_recipe")] public string? TrainingRecipe { get; init; }

    /// <summary>The model's architecture as saved.</summary>
    public Modeling.BeitConfig ModelConfig() => Modeling.BeitConfig.FromJson(Config.ToJsonString(), "the model zip's BEiT config");

    /// <summary>The preprocessing as saved.</summary>
    public Preprocessing.BeitPreprocessorConfig PreprocessorConfig() =>
        Preprocessing.BeitPreprocessorConfig.FromJson(Preprocessor.ToJsonString(), "the model zip's preprocessor config");

    /// <summary>The JSON text of these settings (the derived record's keys included).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GetType(), Json);

    /// <summary>Reads settings written by <see cref="ToJson"/>, or by any earlier version of the library.</summary>
    /// <exception cref="InvalidDataException">The text is not the settings of this kind of transformer.</exception>
    public static T Read<T>(string json) where T : BeitZipSettings
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json) ?? throw new JsonException("The settings are null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The model zip's BEiT settings cannot be read ({e.Message}); the zip is damaged or was not written by this library.", e);
        }
    }
}

/// <summary>What <see cref="BeitImageClassificationTransformer"/> stores.</summary>
internal sealed record ClassifierZipSettings : BeitZipSettings
{
    [JsonPropertyName("image_column")] public required string ImageColumn { get; init; }
    [JsonPropertyName("score_column")] public required string ScoreColumn { get; init; }
    [JsonPropertyName("predicted_label_column")] public required string PredictedLabelColumn { get; init; }
}

/// <summary>What <see cref="BeitFeaturizerTransformer"/> stores.</summary>
internal sealed record FeaturizerZipSettings : BeitZipSettings
{
    [JsonPropertyName("output_column")] public required string OutputColumn { get; init; }
    [JsonPropertyName("input_column")] public required string InputColumn { get; init; }
    [JsonPropertyName("pooling")] public required BeitPooling Pooling { get; init; }
    [JsonPropertyName("layer")] public required int Layer { get; init; }
    [JsonPropertyName("normalize_l2")] public required bool NormalizeL2 { get; init; }
    [JsonPropertyName("architecture")] public required BeitArchitecture Architecture { get; init; }
}

/// <summary>What <see cref="BeitSemanticSegmentationTransformer"/> stores.</summary>
internal sealed record SegmenterZipSettings : BeitZipSettings
{
    [JsonPropertyName("image_column")] public required string ImageColumn { get; init; }
    [JsonPropertyName("predicted_mask_column")] public required string PredictedMaskColumn { get; init; }
    [JsonPropertyName("score_column")] public string? ScoreColumn { get; init; }
    [JsonPropertyName("ignore_index")] public required int IgnoreIndex { get; init; }
    [JsonPropertyName("reduce_labels")] public required bool ReduceLabels { get; init; }
    [JsonPropertyName("crop_size")] public required int CropSize { get; init; }
}
