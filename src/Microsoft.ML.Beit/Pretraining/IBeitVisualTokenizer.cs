using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// A visual tokenizer for masked image modeling: it maps an image to a grid of discrete visual tokens, one per patch
/// of the BEiT model being pretrained (BEiT uses the DALL-E dVAE: 112x112 pixels to 14x14 tokens of 8192).
/// </summary>
public interface IBeitVisualTokenizer : IDisposable
{
    /// <summary>Number of distinct tokens (the MIM head's output size).</summary>
    int VocabularySize { get; }

    /// <summary>Side of the square images the tokenizer reads, in pixels.</summary>
    int InputSize { get; }

    /// <summary>Tokens per side: <see cref="InputSize"/> divided by the tokenizer's downsampling.</summary>
    int GridSize { get; }

    /// <summary>
    /// Token ids, [B, GridSize * GridSize] int64 in row-major patch order, for [B, 3, InputSize, InputSize] pixels in
    /// [0, 1] on the tokenizer's device (the tokenizer applies its own input mapping). Runs without gradients.
    /// </summary>
    Tensor Tokenize(Tensor pixels);

    /// <summary>Moves the tokenizer to <paramref name="device"/>.</summary>
    void MoveTo(Device device);
}
