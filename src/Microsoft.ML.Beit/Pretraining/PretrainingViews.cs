using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// unilm's two-view augmentation for BEiT pretraining: one random resized crop (area in [minScale, 1], aspect 3/4 to
/// 4/3) and flip, resized twice: to the model's input for the patch view (the model's filter) and to the tokenizer's
/// input for the token view (Lanczos, as unilm's second view).
/// </summary>
internal sealed class PretrainingViews(int patchSize, BeitResample patchResample, int tokenizerSize, double minScale, double horizontalFlip)
{
    public (RgbImage Patches, RgbImage Tokens) Apply(RgbImage image, Random random)
    {
        var (left, top, width, height) = CropBox(image.Width, image.Height, random);
        var crop = image.Crop(left, top, width, height);
        if (random.NextDouble() < horizontalFlip) crop = Flip(crop);
        return (Resize(crop, patchSize, patchResample), Resize(crop, tokenizerSize, BeitResample.Lanczos));
    }

    /// <summary>The deterministic views for evaluation: the whole image resized.</summary>
    public (RgbImage Patches, RgbImage Tokens) Center(RgbImage image) =>
        (Resize(image, patchSize, patchResample), Resize(image, tokenizerSize, BeitResample.Lanczos));

    // torchvision's RandomResizedCrop: up to 10 tries at a random area and log-uniform aspect, else the whole image.
    (int Left, int Top, int Width, int Height) CropBox(int width, int height, Random random)
    {
        double area = width * height;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (minScale + random.NextDouble() * (1 - minScale));
            double aspect = Math.Exp(Math.Log(3.0 / 4) + random.NextDouble() * (Math.Log(4.0 / 3) - Math.Log(3.0 / 4)));
            int w = (int)Math.Round(Math.Sqrt(target * aspect)), h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && h > 0 && w <= width && h <= height)
                return (random.Next(width - w + 1), random.Next(height - h + 1), w, h);
        }
        return (0, 0, width, height);
    }

    static RgbImage Flip(RgbImage image)
    {
        var pixels = new byte[image.Pixels.Length];
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                for (int c = 0; c < 3; c++)
                    pixels[(y * image.Width + x) * 3 + c] = image.Pixels[(y * image.Width + image.Width - 1 - x) * 3 + c];
        return new RgbImage(image.Width, image.Height, pixels);
    }

    static RgbImage Resize(RgbImage image, int size, BeitResample filter) =>
        image.Width == size && image.Height == size ? image
            : new RgbImage(size, size, PillowResampler.Resize(image.Pixels, image.Width, image.Height, 3, size, size, filter));
}
