using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Beit.Modeling;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// The architecture of a <see cref="BeitDiscreteVae"/>: a DALL-E-style encoder and its mirrored decoder. It is saved as
/// JSON (snake_case keys) in the tokenizer file's safetensors metadata. Defaults give a BEiT-224/16 tokenizer:
/// 112x112 pixels to 14x14 tokens of 8192.
/// </summary>
public sealed record DiscreteVaeConfig
{
    /// <summary>Side of the square images, in pixels (a multiple of <see cref="Downsampling"/>). Default 112.</summary>
    [JsonPropertyName("input_size")] public int InputSize { get; init; } = 112;

    /// <summary>Number of visual tokens. Default 8192 (DALL-E's).</summary>
    [JsonPropertyName("vocab_size")] public int VocabularySize { get; init; } = 8192;

    /// <summary>Width of the first encoder group (DALL-E <c>n_hid</c>); the widths double per group. A multiple of 4. Default 64.</summary>
    [JsonPropertyName("n_hid")] public int HiddenChannels { get; init; } = 64;

    /// <summary>Pixels per token side: a power of two, 2 or more (8 for DALL-E). Default 8.</summary>
    [JsonPropertyName("downsampling")] public int Downsampling { get; init; } = 8;

    /// <summary>Residual blocks per group (DALL-E <c>n_blk_per_group</c>, 2 in OpenAI's model). Default 1.</summary>
    [JsonPropertyName("n_blk_per_group")] public int BlocksPerGroup { get; init; } = 1;

    /// <summary>Tokens per side: <see cref="InputSize"/> / <see cref="Downsampling"/>.</summary>
    [JsonIgnore] public int GridSize => InputSize / Downsampling;

    /// <summary>The encoder's config (3 input channels; one group per halving plus one).</summary>
    [JsonIgnore]
    public DalleEncoderConfig EncoderConfig =>
        new(HiddenChannels, BlocksPerGroup, 3, VocabularySize, GroupCount: System.Numerics.BitOperations.Log2((uint)Downsampling) + 1);

    /// <summary>Checks every value.</summary>
    /// <param name="source">What to call the config in errors (a file, "options").</param>
    /// <exception cref="ArgumentException">A value is out of range; the message names it and says what is allowed.</exception>
    public void Validate(string source = "dVAE config")
    {
        if (Downsampling < 2 || !System.Numerics.BitOperations.IsPow2(Downsampling) || Downsampling > 128)
            throw new ArgumentException($"{source}: downsampling is {Downsampling}; it must be a power of two from 2 to 128 (8 for DALL-E).");
        if (InputSize < Downsampling || InputSize % Downsampling != 0)
            throw new ArgumentException($"{source}: input size {InputSize} is not a positive multiple of the downsampling {Downsampling}.");
        EncoderConfig.Validate(source);
    }

    /// <summary>The config as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Parses and validates a config written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The JSON is malformed or describes no valid dVAE; the message names <paramref name="source"/>.</exception>
    public static DiscreteVaeConfig FromJson(string json, string source)
    {
        DiscreteVaeConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<DiscreteVaeConfig>(json, new JsonSerializerOptions { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: the dVAE config is not valid JSON of the expected fields ({e.Message}).", e);
        }
        if (config is null) throw new InvalidDataException($"{source}: the dVAE config is null.");
        try
        {
            config.Validate(source);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        return config;
    }
}
