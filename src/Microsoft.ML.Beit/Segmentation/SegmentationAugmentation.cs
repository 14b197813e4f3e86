using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// The training transform of BEiT's segmentation recipe, applied jointly to an image and its labels: scale so that
/// the short side is the crop size times a random ratio, take a random crop of the crop size, flip, and pad what is
/// smaller (image with its mean color, labels with the ignore value). Images use the model's resampling filter,
/// labels nearest neighbour.
/// </summary>
internal sealed class SegmentationAugmentation(int cropSize, (double Min, double Max) scaleRange, double horizontalFlip,
    BeitResample resample, byte ignoreLabel, byte[] padColor)
{
    public SegmentedImage Apply(SegmentedImage sample, Random random)
    {
        var (image, labels) = (sample.Image, sample.Labels);
        double ratio = scaleRange.Min + random.NextDouble() * (scaleRange.Max - scaleRange.Min);
        var (width, height) = ScaledSize(image.Width, image.Height, cropSize * ratio);
        if (width != image.Width || height != image.Height)
        {
            labels = ResizeNearest(labels, image.Width, image.Height, width, height);
            image = new RgbImage(width, height, PillowResampler.Resize(image.Pixels, image.Width, image.Height, 3, width, height, resample));
        }
        int left = random.Next(Math.Max(width - cropSize, 0) + 1), top = random.Next(Math.Max(height - cropSize, 0) + 1);
        bool flip = random.NextDouble() < horizontalFlip;

        var pixels = new byte[cropSize * cropSize * 3];
        var cropped = new byte[cropSize * cropSize];
        for (int p = 0; p < cropped.Length; p++)
        {
            pixels[3 * p] = padColor[0];
            pixels[3 * p + 1] = padColor[1];
            pixels[3 * p + 2] = padColor[2];
            cropped[p] = ignoreLabel;
        }
        int copyWidth = Math.Min(cropSize, width), copyHeight = Math.Min(cropSize, height);
        for (int y = 0; y < copyHeight; y++)
            for (int x = 0; x < copyWidth; x++)
            {
                int source = (top + y) * width + left + x, target = y * cropSize + (flip ? copyWidth - 1 - x : x);
                cropped[target] = labels[source];
                pixels[3 * target] = image.Pixels[3 * source];
                pixels[3 * target + 1] = image.Pixels[3 * source + 1];
                pixels[3 * target + 2] = image.Pixels[3 * source + 2];
            }
        return new SegmentedImage(new RgbImage(cropSize, cropSize, pixels), cropped) { Source = sample.Source };
    }

    /// <summary>The size with the short side <paramref name="shortSide"/> and the aspect kept (at least 1 pixel).</summary>
    public static (int Width, int Height) ScaledSize(int width, int height, double shortSide)
    {
        double scale = shortSide / Math.Min(width, height);
        return (Math.Max(1, (int)Math.Round(width * scale)), Math.Max(1, (int)Math.Round(height * scale)));
    }

    /// <summary>Nearest-neighbour resize (pixel centres), the only resize that keeps labels labels.</summary>
    public static byte[] ResizeNearest(byte[] labels, int width, int height, int newWidth, int newHeight)
    {
        var resized = new byte[newWidth * newHeight];
        for (int y = 0; y < newHeight; y++)
        {
            int sy = Math.Min(height - 1, (int)((y + 0.5) * height / newHeight));
            for (int x = 0; x < newWidth; x++)
                resized[y * newWidth + x] = labels[sy * width + Math.Min(width - 1, (int)((x + 0.5) * width / newWidth))];
        }
        return resized;
    }
}
