using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// BEiT's visual tokenizer: OpenAI's DALL-E dVAE encoder, whose token for each 8x8 cell is the argmax of its logits.
/// BEiT-224 with 16-pixel patches reads the tokens of a 112x112 view (14x14 tokens of 8192).
/// </summary>
public sealed class DalleTokenizer : IBeitVisualTokenizer
{
    Device _device;

    /// <summary>Wraps <paramref name="encoder"/> (the tokenizer owns and disposes it) for <paramref name="inputSize"/>-pixel images.</summary>
    /// <exception cref="ArgumentException"><paramref name="inputSize"/> is not a positive multiple of the encoder's downsampling.</exception>
    public DalleTokenizer(DalleEncoder encoder, int inputSize = 112)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        int d = encoder.Config.Downsampling;
        if (inputSize < d || inputSize % d != 0)
            throw new ArgumentException($"The DALL-E tokenizer's input size must be a positive multiple of its downsampling {d}; got {inputSize}.", nameof(inputSize));
        Encoder = encoder;
        InputSize = inputSize;
        _device = encoder.parameters().First().device;
        encoder.eval();
    }

    /// <summary>
    /// Loads a DALL-E encoder from a safetensors file holding its state dict (keys <c>blocks.input.w</c>, ...),
    /// inferring <see cref="DalleEncoderConfig"/> from the tensor shapes. The tokenizer starts on the CPU.
    /// </summary>
    /// <param name="safetensorsPath">The encoder weights, for example OpenAI's <c>encoder.pkl</c> converted to safetensors.</param>
    /// <param name="inputSize">Side of the images to tokenize, in pixels. Default 112 (BEiT-224/16).</param>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is not safetensors or not a DALL-E encoder; the message says why.</exception>
    /// <exception cref="BeitCheckpointMismatchException">Some tensor is missing, unexpected or mis-shaped.</exception>
    public static DalleTokenizer Load(string safetensorsPath, int inputSize = 112)
    {
        if (!File.Exists(safetensorsPath))
            throw new FileNotFoundException($"DALL-E encoder weights '{safetensorsPath}' do not exist.", safetensorsPath);
        var weights = SafetensorsFile.Read(safetensorsPath);
        try
        {
            return FromWeights(weights, safetensorsPath, inputSize);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    /// <summary>Builds the tokenizer from an encoder state dict (copied; the caller keeps ownership of <paramref name="weights"/>).</summary>
    /// <param name="weights">The encoder's tensors by key.</param>
    /// <param name="source">What to call the weights in errors.</param>
    /// <param name="inputSize">Side of the images to tokenize, in pixels.</param>
    public static DalleTokenizer FromWeights(IReadOnlyDictionary<string, Tensor> weights, string source, int inputSize = 112)
    {
        var config = DalleEncoderConfig.Infer(weights, source);
        var encoder = new DalleEncoder(config);
        try
        {
            BeitStateDict.Load(encoder, weights, source);
            return new DalleTokenizer(encoder, inputSize);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <summary>The encoder.</summary>
    public DalleEncoder Encoder { get; }

    /// <summary>The encoder's architecture.</summary>
    public DalleEncoderConfig Config => Encoder.Config;

    /// <inheritdoc/>
    public int VocabularySize => Config.VocabularySize;

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int GridSize => InputSize / Config.Downsampling;

    /// <summary>The encoder's logits [B, vocab, GridSize, GridSize] for pixels [B, 3, InputSize, InputSize] in [0, 1].</summary>
    public Tensor Logits(Tensor pixels)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = TokenizerPixels.Prepare(pixels, InputSize, _device, "The DALL-E tokenizer");
        return Encoder.forward(DalleEncoder.MapPixels(x)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Tokenize(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        return TokenizerPixels.Argmax(Logits(pixels)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void MoveTo(Device device)
    {
        Encoder.to(device);
        _device = device;
    }

    /// <summary>Disposes the encoder.</summary>
    public void Dispose() => Encoder.Dispose();
}
