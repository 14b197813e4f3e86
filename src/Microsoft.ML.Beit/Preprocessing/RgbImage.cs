using Microsoft.ML.Data;
using SkiaSharp;

namespace Microsoft.ML.Beit.Preprocessing;

/// <summary>An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (Pillow's <c>convert("RGB")</c>).</summary>
/// <param name="Width">Pixels per row.</param>
/// <param name="Height">Rows.</param>
/// <param name="Pixels">Width * Height * 3 bytes.</param>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    /// <summary>
    /// The most pixels an encoded image may declare before it is refused undecoded (a "decompression bomb": a small file whose
    /// header claims a huge image). Default 178,956,970, Pillow's error threshold (twice its warning limit); set it higher to
    /// accept larger images.
    /// </summary>
    public static long MaxPixels { get; set; } = 178_956_970;

    /// <summary>
    /// Converts an ML.NET image (any pixel format <c>LoadImages</c> produces). Alpha is dropped, as
    /// Pillow's <c>convert("RGB")</c> does; grayscale sources arrive from SkiaSharp as equal R, G and B.
    /// </summary>
    public static RgbImage FromMLImage(MLImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Width < 1 || image.Height < 1)
            throw new InvalidDataException($"The image is {image.Width}x{image.Height} pixels; it has no pixels to process.");
        var source = image.Pixels;
        int pixels = image.Width * image.Height;
        int bytesPerPixel = source.Length / pixels;
        if (bytesPerPixel != 4)
            throw new InvalidDataException($"Unsupported MLImage layout: {image.PixelFormat} with {bytesPerPixel} bytes per pixel.");
        var (r, b) = image.PixelFormat == MLPixelFormat.Bgra32 ? (2, 0) : (0, 2);
        var rgb = new byte[pixels * 3];
        for (int p = 0; p < pixels; p++)
        {
            rgb[p * 3] = source[p * 4 + r];
            rgb[p * 3 + 1] = source[p * 4 + 1];
            rgb[p * 3 + 2] = source[p * 4 + b];
        }
        return new RgbImage(image.Width, image.Height, rgb);
    }

    /// <summary>
    /// Decodes an encoded image (JPEG, PNG, BMP, GIF, WebP, ...). Transparent pixels keep their colour
    /// (alpha is dropped without compositing, as Pillow's <c>convert("RGB")</c> does); an animated GIF gives its first frame;
    /// an EXIF orientation is not applied (as Pillow's <c>Image.open</c> and Hugging Face's processors do not); 16-bit and
    /// palette images become 8-bit RGB.
    /// </summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="source">What to call the image in errors (a path, a row number).</param>
    /// <exception cref="InvalidDataException">The bytes are empty, corrupt, truncated or not an image.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> encoded, string source)
    {
        if (encoded.IsEmpty)
            throw new InvalidDataException($"{source} is empty (0 bytes), not an image.");
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException($"{source} is not an image that can be decoded (corrupt, or not JPEG/PNG/BMP/GIF/WebP).");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (info.Width < 1 || info.Height < 1)
            throw new InvalidDataException($"{source} has no pixels ({info.Width}x{info.Height}).");
        if ((long)info.Width * info.Height > MaxPixels)
            throw new InvalidDataException(
                $"{source} declares {info.Width}x{info.Height} pixels, more than RgbImage.MaxPixels ({MaxPixels:N0}); it was not decoded (raise the limit if the image is genuine).");
        var rgba = new byte[info.BytesSize];
        unsafe
        {
            fixed (byte* target = rgba)
            {
                var result = codec.GetPixels(info, (IntPtr)target);
                if (result != SKCodecResult.Success)
                    throw new InvalidDataException($"{source} could not be decoded: {result} (the file is truncated or corrupt).");
            }
        }
        int pixels = info.Width * info.Height;
        var rgb = new byte[pixels * 3];
        for (int p = 0; p < pixels; p++)
        {
            rgb[p * 3] = rgba[p * 4];
            rgb[p * 3 + 1] = rgba[p * 4 + 1];
            rgb[p * 3 + 2] = rgba[p * 4 + 2];
        }
        return new RgbImage(info.Width, info.Height, rgb);
    }

    /// <summary>The <paramref name="width"/> x <paramref name="height"/> region whose top-left pixel is (<paramref name="left"/>, <paramref name="top"/>).</summary>
    public RgbImage Crop(int left, int top, int width, int height)
    {
        if (left < 0 || top < 0 || width < 1 || height < 1 || left + width > Width || top + height > Height)
            throw new ArgumentOutOfRangeException(nameof(width), $"A {width}x{height} crop at ({left}, {top}) does not fit a {Width}x{Height} image.");
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            Array.Copy(Pixels, ((top + y) * Width + left) * 3, pixels, y * width * 3, width * 3);
        return new RgbImage(width, height, pixels);
    }

    /// <summary>Reads and decodes an image file.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a decodable image.</exception>
    public static RgbImage Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
        return Decode(File.ReadAllBytes(path), path);
    }
}
