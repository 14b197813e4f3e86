using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>What both tokenizers check and do to the pixels they are given.</summary>
internal static class TokenizerPixels
{
    /// <summary>
    /// <paramref name="pixels"/> as float32 on <paramref name="device"/>, after checking it is [B, 3, size, size].
    /// The result may be the input itself: the caller must not dispose it separately from the input.
    /// </summary>
    public static Tensor Prepare(Tensor pixels, int inputSize, Device device, string tokenizer)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.dim() != 4 || pixels.shape[1] != 3 || pixels.shape[2] != inputSize || pixels.shape[3] != inputSize)
            throw new ArgumentException(
                $"{tokenizer} reads [batch, 3, {inputSize}, {inputSize}] pixels in [0, 1]; got [{string.Join(", ", pixels.shape)}]. " +
                "Resize the images to the tokenizer's InputSize first.", nameof(pixels));
        var result = pixels.dtype == ScalarType.Float32 ? pixels : pixels.to(ScalarType.Float32);
        return result.device == device ? result : result.to(device);
    }

    /// <summary>Row-major token ids [B, g*g] int64 from logits [B, vocab, g, g].</summary>
    public static Tensor Argmax(Tensor logits) => logits.argmax(1).flatten(1);
}
