using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// mmseg's <c>slide</c> inference, the parts both segmentation backends share: how an image is scaled for it and where the
/// windows go.
/// </summary>
internal static class SlidingWindows
{
    /// <summary>The image resized (short side = crop size, aspect kept) and normalised: [3, H, W] floats.</summary>
    public static (float[] Pixels, int Height, int Width) Prepare(RgbImage image, int cropSize, BeitImageProcessor processor)
    {
        var (width, height) = SegmentationAugmentation.ScaledSize(image.Width, image.Height, cropSize);
        var resized = width == image.Width && height == image.Height ? image
            : new RgbImage(width, height, PillowResampler.Resize(image.Pixels, image.Width, image.Height, 3, width, height, processor.Config.Resample));
        var values = new float[3 * width * height];
        processor.Normalize(resized, values);
        return (values, height, width);
    }

    /// <summary>The windows' top-left corners: a grid with stride 2/3 of the crop, the last row and column flush with the edge.</summary>
    public static IEnumerable<(int Top, int Left)> Of(int height, int width, int cropSize)
    {
        int stride = Math.Max(1, cropSize * 2 / 3);   // mmseg's configs: 341 for 512, 426 for 640
        int rows = Math.Max(height - cropSize + stride - 1, 0) / stride + 1, columns = Math.Max(width - cropSize + stride - 1, 0) / stride + 1;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                yield return (Math.Max(Math.Min(r * stride + cropSize, height) - cropSize, 0), Math.Max(Math.Min(c * stride + cropSize, width) - cropSize, 0));
    }
}
