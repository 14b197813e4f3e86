using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>Cuts the image into non-overlapping patches and projects each to the hidden size (a strided convolution).</summary>
public sealed class BeitPatchEmbeddings : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>Convolution with kernel and stride equal to the patch size.</summary>
    public readonly Conv2d projection;
#pragma warning restore IDE1006

    readonly int _numChannels;
    readonly int _imageSize;

    /// <summary>Builds the patch projection for <paramref name="config"/>.</summary>
    public BeitPatchEmbeddings(BeitConfig config) : base(nameof(BeitPatchEmbeddings))
    {
        _numChannels = config.NumChannels;
        _imageSize = config.ImageSize;
        projection = nn.Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize);
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] pixels to [B, N, D] patch embeddings, patches in row-major order.</summary>
    public override Tensor forward(Tensor pixelValues)
    {
        if (pixelValues.dim() != 4 || pixelValues.shape[1] != _numChannels)
            throw new ArgumentException(
                $"pixel_values must be [batch, {_numChannels}, height, width]; got [{string.Join(", ", pixelValues.shape)}].");
        if (pixelValues.shape[2] != _imageSize || pixelValues.shape[3] != _imageSize)
            throw new ArgumentException(
                $"pixel_values are {pixelValues.shape[2]}x{pixelValues.shape[3]} but the model was built for {_imageSize}x{_imageSize} images; resize them first.");
        using var scope = NewDisposeScope();
        return projection.forward(pixelValues).flatten(2).transpose(1, 2).MoveToOuterDisposeScope();
    }
}
