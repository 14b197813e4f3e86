using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Preprocessing;

/// <summary>
/// Turns images into the <c>pixel_values</c> a BEiT model expects, as Hugging Face's
/// <c>BeitImageProcessor</c> does with Pillow: resize (Pillow-exact, antialiased when downscaling,
/// rounded to uint8), optional center crop, rescale, normalise, channels first.
/// </summary>
public sealed class BeitImageProcessor
{
    /// <summary>Creates a processor for <paramref name="config"/> (default: the pt22k checkpoints' settings).</summary>
    public BeitImageProcessor(BeitPreprocessorConfig? config = null)
    {
        Config = config ?? BeitPreprocessorConfig.Pt22k();
        Config.Validate();
    }

    /// <summary>The settings.</summary>
    public BeitPreprocessorConfig Config { get; }

    /// <summary>The uint8 image after resizing and cropping, before rescaling ([height, width, 3]).</summary>
    public RgbImage ResizeAndCrop(RgbImage image)
    {
        var result = image;
        if (Config.DoResize)
        {
            var (height, width) = Config.ShortestEdge is int edge ? KeepAspect(image, edge) : (Config.ResizeHeight, Config.ResizeWidth);
            if (height != image.Height || width != image.Width)
                result = new RgbImage(width, height, PillowResampler.Resize(image.Pixels, image.Width, image.Height, 3, width, height, Config.Resample));
        }
        return Config.DoCenterCrop ? CenterCrop(result, Config.CropHeight, Config.CropWidth) : result;
    }

    /// <summary>Writes the [3, H, W] float pixel values of <paramref name="image"/> to <paramref name="destination"/> and returns (H, W).</summary>
    public (int Height, int Width) Process(RgbImage image, Span<float> destination) => Normalize(ResizeAndCrop(image), destination);

    /// <summary>The [3, H, W] pixel values of one image.</summary>
    public float[] Process(RgbImage image)
    {
        var resized = ResizeAndCrop(image);
        var values = new float[3 * resized.Width * resized.Height];
        Normalize(resized, values);
        return values;
    }

    /// <summary>A [B, 3, H, W] float32 tensor of the images, which must all come out the same size.</summary>
    public Tensor ProcessBatch(IReadOnlyList<RgbImage> images)
    {
        var (values, height, width) = ProcessBatchValues(images);
        return tensor(values, [images.Count, 3, height, width]);
    }

    /// <summary>
    /// The [B, 3, H, W] pixel values of the images (which must all come out the same size) as one row-major array, without
    /// LibTorch (the ONNX Runtime backend scores from these).
    /// </summary>
    public (float[] Values, int Height, int Width) ProcessBatchValues(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("No images to process.", nameof(images));
        var first = ResizeAndCrop(images[0]);
        int height = first.Height, width = first.Width, perImage = 3 * height * width;
        var values = new float[images.Count * perImage];
        Normalize(first, values.AsSpan(0, perImage));
        for (int i = 1; i < images.Count; i++)
        {
            var resized = ResizeAndCrop(images[i]);
            if (resized.Height != height || resized.Width != width)
                throw new ArgumentException($"Image {i} comes out {resized.Height}x{resized.Width}, not {height}x{width}; set a fixed size or a center crop.");
            Normalize(resized, values.AsSpan(i * perImage, perImage));
        }
        return (values, height, width);
    }

    /// <summary>Rescales and normalises an already sized image into [3, H, W] floats (the last steps of <see cref="Process(RgbImage, Span{float})"/>).</summary>
    internal (int Height, int Width) Normalize(RgbImage resized, Span<float> destination)
    {
        int plane = resized.Width * resized.Height;
        if (destination.Length < 3 * plane)
            throw new ArgumentException($"destination holds {destination.Length} values; {3 * plane} are needed.", nameof(destination));
        float scale = Config.DoRescale ? (float)Config.RescaleFactor : 1f;
        var pixels = resized.Pixels;
        for (int c = 0; c < 3; c++)
        {
            float mean = Config.DoNormalize ? Config.ImageMean[c] : 0f;
            float inverseStd = Config.DoNormalize ? 1f / Config.ImageStd[c] : 1f;
            var channel = destination.Slice(c * plane, plane);
            for (int p = 0; p < plane; p++)
                channel[p] = (pixels[p * 3 + c] * scale - mean) * inverseStd;
        }
        return (resized.Height, resized.Width);
    }

    static (int Height, int Width) KeepAspect(RgbImage image, int shortestEdge)
    {
        // Hugging Face: the short side becomes shortestEdge, the long side int(shortestEdge * long / short).
        bool portrait = image.Height >= image.Width;
        int shortSide = Math.Min(image.Width, image.Height), longSide = Math.Max(image.Width, image.Height);
        int newLong = (int)((double)shortestEdge * longSide / shortSide);
        return portrait ? (newLong, shortestEdge) : (shortestEdge, newLong);
    }

    static RgbImage CenterCrop(RgbImage image, int height, int width)
    {
        if (height > image.Height || width > image.Width)
            throw new ArgumentException($"A {image.Width}x{image.Height} image is smaller than the {width}x{height} crop; resize it first (do_resize).");
        return image.Crop((image.Width - width) / 2, (image.Height - height) / 2, width, height);
    }
}
