using Microsoft.ML.Beit.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// A visual tokenizer trained on one's own images (<see cref="DiscreteVaeTrainer"/>): hard argmax tokens of a
/// <see cref="BeitDiscreteVae"/> encoder. It saves to one safetensors file holding the encoder and decoder weights,
/// with <c>__metadata__</c> entries <c>format</c> = <see cref="FormatName"/>, <c>format_version</c> = <see cref="FormatVersion"/>
/// and <c>config</c> = the <see cref="DiscreteVaeConfig"/> as JSON, so any safetensors reader can open it.
/// </summary>
public sealed class DiscreteVaeTokenizer : IBeitVisualTokenizer
{
    /// <summary>The <c>format</c> metadata value that marks a tokenizer file.</summary>
    public const string FormatName = "beit-discrete-vae";

    /// <summary>The <c>format_version</c> this library writes and reads.</summary>
    public const string FormatVersion = "1";

    Device _device;

    /// <summary>Wraps <paramref name="model"/>; the tokenizer owns and disposes it.</summary>
    public DiscreteVaeTokenizer(BeitDiscreteVae model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _device = model.parameters().First().device;
        model.eval();
    }

    /// <summary>The dVAE (encoder and decoder).</summary>
    public BeitDiscreteVae Model { get; }

    /// <summary>The architecture.</summary>
    public DiscreteVaeConfig Config => Model.Config;

    /// <inheritdoc/>
    public int VocabularySize => Config.VocabularySize;

    /// <inheritdoc/>
    public int InputSize => Config.InputSize;

    /// <inheritdoc/>
    public int GridSize => Config.GridSize;

    /// <inheritdoc/>
    public Tensor Tokenize(Tensor pixels)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = TokenizerPixels.Prepare(pixels, InputSize, _device, "The dVAE tokenizer");
        return Model.Tokens(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What the tokens keep of an image: pixels [B, 3, InputSize, InputSize] in [0, 1] decoded from the hard tokens of
    /// <paramref name="pixels"/> (for judging a tokenizer by eye or by reconstruction error).
    /// </summary>
    public Tensor Reconstruct(Tensor pixels)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return Model.DecodeTokens(Tokenize(pixels)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void MoveTo(Device device)
    {
        Model.to(device);
        _device = device;
    }

    /// <summary>Writes the tokenizer to one safetensors file (atomically: written beside it, then renamed).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
        using var scope = NewDisposeScope();
        SafetensorsFile.Write(path, Model.state_dict(), new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["format_version"] = FormatVersion,
            ["config"] = Config.ToJson(),
        });
    }

    /// <summary>Loads a tokenizer written by <see cref="Save"/>, on the CPU.</summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is not safetensors, or not a dVAE tokenizer (a DALL-E encoder, a BEiT model, ...); the message says which.</exception>
    /// <exception cref="BeitCheckpointMismatchException">The weights do not fit the config stored with them.</exception>
    public static DiscreteVaeTokenizer Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        var weights = SafetensorsFile.Read(path, out var metadata);
        try
        {
            return FromWeights(weights, metadata, path);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    /// <summary>Whether safetensors metadata marks a file as a dVAE tokenizer.</summary>
    internal static bool IsTokenizer(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue("format", out var format) && format == FormatName;

    internal static DiscreteVaeTokenizer FromWeights(IReadOnlyDictionary<string, Tensor> weights, IReadOnlyDictionary<string, string> metadata, string source)
    {
        if (!IsTokenizer(metadata))
        {
            string what = weights.ContainsKey("blocks.input.w")
                ? "It looks like a DALL-E encoder: load it with DalleTokenizer.Load or VisualTokenizers.Load."
                : $"It holds {weights.Count} tensors (such as {string.Join(", ", weights.Keys.Take(3).Select(k => $"'{k}'"))}).";
            throw new InvalidDataException(
                $"{source} is not a dVAE tokenizer saved by DiscreteVaeTokenizer.Save: its safetensors metadata has no format '{FormatName}' " +
                $"(metadata: {(metadata.Count == 0 ? "none" : string.Join(", ", metadata.Keys))}). {what}");
        }
        if (!metadata.TryGetValue("format_version", out var version) || version != FormatVersion)
            throw new InvalidDataException(
                $"{source} is a dVAE tokenizer of format version '{version ?? "(none)"}'; this library reads version {FormatVersion}. Retrain or use a matching library version.");
        if (!metadata.TryGetValue("config", out var json))
            throw new InvalidDataException($"{source} is marked as a dVAE tokenizer but its metadata has no 'config' entry.");
        var model = new BeitDiscreteVae(DiscreteVaeConfig.FromJson(json, source));
        try
        {
            BeitStateDict.Load(model, weights, source);
            return new DiscreteVaeTokenizer(model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Disposes the model.</summary>
    public void Dispose() => Model.Dispose();
}
