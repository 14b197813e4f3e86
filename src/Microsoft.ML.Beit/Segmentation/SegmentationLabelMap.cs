using SkiaSharp;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// Label maps: images whose pixel values are class ids, one byte a pixel, as ADE20K stores its annotations
/// (8-bit grayscale PNG, 0 = "other", 1..150 the classes).
/// </summary>
public static class SegmentationLabelMap
{
    static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// Reads a label map. An 8-bit grayscale PNG gives its values; an RGB or RGBA PNG is accepted when every pixel
    /// has R = G = B, and gives that value (alpha is ignored). A palette PNG is expanded to colours by SkiaSharp, so
    /// it follows the RGB rule: its palette entries must be gray, e.g. entry k = (k, k, k); a coloured palette
    /// (as Pascal VOC's masks use) is rejected. Grayscale PNGs of other than 8 bits, 16-bit PNGs and JPEGs are rejected: their
    /// decoded values are not the stored class ids.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="width">Pixels per row of the map.</param>
    /// <param name="height">Rows of the map.</param>
    /// <returns>Width * Height class ids, rows top to bottom.</returns>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is empty, truncated, not a decodable image, or holds colours rather than gray class ids.</exception>
    public static byte[] Read(string path, out int width, out int height)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Label map '{path}' does not exist.", path);
        return Decode(File.ReadAllBytes(path), path, out width, out height);
    }

    /// <summary>Decodes an encoded label map (the bytes of a file <see cref="Read"/> accepts), with the same rules.</summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="source">What to call the map in errors (a path, a row number).</param>
    /// <param name="width">Pixels per row of the map.</param>
    /// <param name="height">Rows of the map.</param>
    /// <returns>Width * Height class ids, rows top to bottom.</returns>
    /// <exception cref="InvalidDataException">The bytes are empty, truncated, not a decodable image, or hold colours rather than gray class ids.</exception>
    public static byte[] Decode(ReadOnlySpan<byte> encoded, string source, out int width, out int height)
    {
        if (encoded.IsEmpty)
            throw new InvalidDataException($"Label map '{source}' is empty (0 bytes), not a PNG.");
        int pngColorType = -1;
        if (encoded.Length >= 26 && encoded[..8].SequenceEqual(PngSignature) && encoded.Slice(12, 4).SequenceEqual("IHDR"u8))
        {
            // Skia rescales gray samples that are not 8-bit (16-bit class 3 becomes 0, 1-bit class 1 becomes 255):
            // wrong ids with no error. Palette PNGs of 1-4 bits are fine: the palette gives the values.
            int bitDepth = encoded[24];
            pngColorType = encoded[25];
            if (bitDepth == 16 || (bitDepth < 8 && pngColorType != 3))
                throw new InvalidDataException($"Label map '{source}' has {bitDepth}-bit samples; label maps must be 8-bit PNGs holding class ids 0-255 (save it as 8-bit grayscale).");
        }

        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException($"Label map '{source}' is not an image that can be decoded (corrupt, truncated before its pixels, or not a PNG).");
        if (codec.EncodedFormat is SKEncodedImageFormat.Jpeg)
            throw new InvalidDataException($"Label map '{source}' is a JPEG; its lossy compression changes class ids near every edge. Label maps must be lossless (8-bit grayscale PNG).");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (info.Width < 1 || info.Height < 1)
            throw new InvalidDataException($"Label map '{source}' has no pixels ({info.Width}x{info.Height}).");
        if ((long)info.Width * info.Height * 4 > Array.MaxLength)
            throw new InvalidDataException($"Label map '{source}' is {info.Width}x{info.Height} pixels, too large to decode in one array.");

        // Decoding always to RGBA keeps gray values exact (gray v becomes v, v, v) and exposes colour, which a
        // decode straight to Gray8 would silently turn into luminance.
        var rgba = new byte[info.BytesSize];
        unsafe
        {
            fixed (byte* target = rgba)
            {
                var result = codec.GetPixels(info, (IntPtr)target);
                if (result != SKCodecResult.Success)
                    throw new InvalidDataException($"Label map '{source}' could not be decoded: {result} (the file is truncated or corrupt).");
            }
        }

        int pixels = info.Width * info.Height;
        var ids = new byte[pixels];
        int coloured = 0, first = -1;
        for (int p = 0; p < pixels; p++)
        {
            byte r = rgba[p * 4], g = rgba[p * 4 + 1], b = rgba[p * 4 + 2];
            if (r != g || g != b)
            {
                if (coloured++ == 0) first = p;
                continue;
            }
            ids[p] = r;
        }
        if (coloured > 0)
        {
            string kind = pngColorType == 3 ? "a palette PNG whose palette holds colours (SkiaSharp expands palettes to colours)" : "a colour image";
            throw new InvalidDataException(
                $"Label map '{source}' is {kind}: {coloured} of {pixels} pixels have R, G and B unequal, the first at " +
                $"(x {first % info.Width}, y {first / info.Width}) = ({rgba[first * 4]}, {rgba[first * 4 + 1]}, {rgba[first * 4 + 2]}). " +
                "Label maps must hold class ids as gray values (8-bit grayscale PNG, pixel value = class id); convert a colour-coded mask to ids first.");
        }
        width = info.Width;
        height = info.Height;
        return ids;
    }

    /// <summary>Writes class ids as an 8-bit grayscale PNG (lossless), creating the folder.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="classIds">Width * Height class ids, rows top to bottom.</param>
    /// <param name="width">Pixels per row.</param>
    /// <param name="height">Rows.</param>
    /// <exception cref="ArgumentException">The number of ids is not <paramref name="width"/> * <paramref name="height"/>.</exception>
    public static void Write(string path, ReadOnlySpan<byte> classIds, int width, int height) =>
        SegmentationPng.Write(path, classIds, width, height, channels: 1);
}
