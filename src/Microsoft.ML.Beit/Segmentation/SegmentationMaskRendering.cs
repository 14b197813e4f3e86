using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>Pictures of label maps for people: colour-coded masks and masks blended over their images.</summary>
public static class SegmentationMaskRendering
{
    /// <summary>
    /// Colours for class ids 0..<paramref name="classes"/>-1: Pascal VOC's palette, which spreads the bits of the id over
    /// the high bits of R, G and B, so class 0 is black, neighbouring ids differ strongly, and all 256 byte values get
    /// distinct colours (255, the usual ignore index, is VOC's pale "void" colour).
    /// </summary>
    /// <param name="classes">How many colours, 1 to 256 (label maps hold one byte a pixel).</param>
    public static IReadOnlyList<(byte R, byte G, byte B)> Palette(int classes)
    {
        if (classes < 1 || classes > 256)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "A palette has 1 to 256 colours, one per byte value of a label map.");
        var colors = new (byte R, byte G, byte B)[classes];
        for (int id = 0; id < classes; id++)
        {
            int r = 0, g = 0, b = 0;
            for (int bit = 7, rest = id; rest > 0; bit--, rest >>= 3)
            {
                r |= (rest & 1) << bit;
                g |= (rest >> 1 & 1) << bit;
                b |= (rest >> 2 & 1) << bit;
            }
            colors[id] = ((byte)r, (byte)g, (byte)b);
        }
        return colors;
    }

    /// <summary>Writes the label map as an RGB PNG, each pixel in its class's <see cref="Palette"/> colour, creating the folder.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="classIds">Width * Height class ids, rows top to bottom.</param>
    /// <param name="width">Pixels per row.</param>
    /// <param name="height">Rows.</param>
    public static void WriteColorMask(string path, ReadOnlySpan<byte> classIds, int width, int height)
    {
        CheckSize(path, classIds, width, height);
        var palette = Palette(256);
        var rgb = new byte[classIds.Length * 3];
        for (int p = 0; p < classIds.Length; p++)
            (rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]) = palette[classIds[p]];
        SegmentationPng.Write(path, rgb, width, height, channels: 3);
    }

    /// <summary>Reads the image at <paramref name="imagePath"/> and writes it with the label map blended over it; see <see cref="WriteOverlay(string, RgbImage, ReadOnlySpan{byte}, int, int, double)"/>.</summary>
    /// <exception cref="FileNotFoundException">There is no image at <paramref name="imagePath"/>.</exception>
    /// <exception cref="InvalidDataException">The image cannot be decoded.</exception>
    public static void WriteOverlay(string path, string imagePath, ReadOnlySpan<byte> classIds, int width, int height, double alpha = 0.5) =>
        WriteOverlay(path, RgbImage.Load(imagePath), classIds, width, height, alpha);

    /// <summary>
    /// Writes <paramref name="image"/> as an RGB PNG with each pixel of a class other than 0 blended toward its
    /// <see cref="Palette"/> colour; background (class 0) pixels keep the image's colour. An image of another size is
    /// first resized to the label map's (bilinear), as a model's prediction is compared at the label map's size.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="image">The image the label map annotates.</param>
    /// <param name="classIds">Width * Height class ids, rows top to bottom.</param>
    /// <param name="width">Pixels per row of the label map.</param>
    /// <param name="height">Rows of the label map.</param>
    /// <param name="alpha">Weight of the class colour, 0 (image only) to 1 (colour only). Default 0.5.</param>
    public static void WriteOverlay(string path, RgbImage image, ReadOnlySpan<byte> classIds, int width, int height, double alpha = 0.5)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckSize(path, classIds, width, height);
        if (!(alpha >= 0 && alpha <= 1))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha is the weight of the class colour, from 0 to 1.");
        byte[] pixels = image.Width == width && image.Height == height
            ? (byte[])image.Pixels.Clone()
            : PillowResampler.Resize(image.Pixels, image.Width, image.Height, 3, width, height, BeitResample.Bilinear);
        var palette = Palette(256);
        for (int p = 0; p < classIds.Length; p++)
        {
            if (classIds[p] == 0) continue;
            var (r, g, b) = palette[classIds[p]];
            pixels[p * 3] = Blend(pixels[p * 3], r, alpha);
            pixels[p * 3 + 1] = Blend(pixels[p * 3 + 1], g, alpha);
            pixels[p * 3 + 2] = Blend(pixels[p * 3 + 2], b, alpha);
        }
        SegmentationPng.Write(path, pixels, width, height, channels: 3);
    }

    static byte Blend(byte image, byte color, double alpha) => (byte)Math.Round(image * (1 - alpha) + color * alpha, MidpointRounding.AwayFromZero);

    static void CheckSize(string path, ReadOnlySpan<byte> classIds, int width, int height)
    {
        if (width < 1 || height < 1)
            throw new ArgumentOutOfRangeException(nameof(width), $"Cannot write '{path}': a {width}x{height} label map has no pixels.");
        if (classIds.Length != (long)width * height)
            throw new ArgumentException($"Cannot write '{path}': {classIds.Length} class ids given for a {width}x{height} label map; expected {(long)width * height}.", nameof(classIds));
    }
}
