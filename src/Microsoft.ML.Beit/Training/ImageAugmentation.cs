using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Training;

/// <summary>
/// Training-time image augmentation as torchvision's <c>RandomResizedCrop</c> (area 8-100 %, aspect 3/4-4/3,
/// ten tries then a center crop), a random horizontal flip and optionally a RandAugment policy (timm's order).
/// Deterministic for a given random source.
/// </summary>
internal sealed class ImageAugmentation(double minScale = 0.08, double maxScale = 1.0, double horizontalFlip = 0.5, RandAugment? policy = null)
{
    /// <summary>Crops a random box, resizes it to <paramref name="size"/> x <paramref name="size"/> and maybe flips it.</summary>
    public RgbImage Apply(RgbImage image, int size, BeitResample resample, Random random)
    {
        var (left, top, width, height) = CropBox(image.Width, image.Height, random);
        var cropped = image.Crop(left, top, width, height);
        var resized = new RgbImage(size, size, PillowResampler.Resize(cropped.Pixels, width, height, 3, size, size, resample));
        var flipped = random.NextDouble() < horizontalFlip ? Flip(resized) : resized;
        return policy is null ? flipped : policy.Apply(flipped, random);
    }

    (int Left, int Top, int Width, int Height) CropBox(int imageWidth, int imageHeight, Random random)
    {
        double area = imageWidth * imageHeight;
        double logMin = Math.Log(3.0 / 4), logMax = Math.Log(4.0 / 3);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (minScale + (maxScale - minScale) * random.NextDouble());
            double aspect = Math.Exp(logMin + (logMax - logMin) * random.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(target * aspect)), h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && h > 0 && w <= imageWidth && h <= imageHeight)
                return (random.Next(imageWidth - w + 1), random.Next(imageHeight - h + 1), w, h);
        }
        // Fallback: the largest center crop within the aspect-ratio range.
        double ratio = (double)imageWidth / imageHeight;
        int cw = imageWidth, ch = imageHeight;
        if (ratio < 3.0 / 4) ch = (int)Math.Round(cw / (3.0 / 4));
        else if (ratio > 4.0 / 3) cw = (int)Math.Round(ch * (4.0 / 3));
        return ((imageWidth - cw) / 2, (imageHeight - ch) / 2, cw, ch);
    }

    static RgbImage Flip(RgbImage image)
    {
        var pixels = new byte[image.Pixels.Length];
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                Array.Copy(image.Pixels, (y * image.Width + x) * 3, pixels, (y * image.Width + image.Width - 1 - x) * 3, 3);
        return image with { Pixels = pixels };
    }
}
