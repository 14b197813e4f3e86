using SkiaSharp;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>The one place the segmentation code encodes PNGs, so label maps, masks and canvases are written alike.</summary>
internal static class SegmentationPng
{
    /// <summary>Writes 8-bit grayscale (one byte a pixel) or RGB (three bytes a pixel) as a PNG, creating the folder.</summary>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (width < 1 || height < 1)
            throw new ArgumentOutOfRangeException(nameof(width), $"Cannot write '{path}': {width}x{height} has no pixels.");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"Cannot write '{path}': {pixels.Length} bytes given for a {width}x{height} image with {channels} byte(s) a pixel; expected {(long)width * height * channels}.", nameof(pixels));

        // Skia has no 24-bit colour type; RGB goes through opaque RGBA, which its PNG encoder writes without alpha.
        byte[] buffer;
        SKColorType colorType;
        if (channels == 1)
        {
            buffer = pixels.ToArray();
            colorType = SKColorType.Gray8;
        }
        else if (channels == 3)
        {
            buffer = new byte[width * height * 4];
            for (int p = 0, n = width * height; p < n; p++)
            {
                buffer[p * 4] = pixels[p * 3];
                buffer[p * 4 + 1] = pixels[p * 3 + 1];
                buffer[p * 4 + 2] = pixels[p * 3 + 2];
                buffer[p * 4 + 3] = 255;
            }
            colorType = SKColorType.Rgba8888;
        }
        else throw new ArgumentOutOfRangeException(nameof(channels), channels, "PNGs are written with 1 (gray) or 3 (RGB) channels.");

        var info = new SKImageInfo(width, height, colorType, SKAlphaType.Opaque);
        using var image = SKImage.FromPixelCopy(info, buffer, info.RowBytes)
            ?? throw new InvalidOperationException($"Cannot write '{path}': SkiaSharp could not wrap the {width}x{height} pixels.");
        using var png = image.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"Cannot write '{path}': SkiaSharp could not encode the {width}x{height} pixels as PNG.");
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        using var file = File.Create(path);
        png.SaveTo(file);
    }
}
