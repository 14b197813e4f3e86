using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The pixel values (not only the sizes) of unusual PNGs, against values worked out from the bytes written: grayscale
/// spreads to R = G = B, alpha is dropped without compositing (Pillow's convert("RGB")), a palette index gives its colour,
/// 1-bit gray gives 0 or 255, and 16 bits a sample become their high byte (for 16-bit grayscale Pillow is said to clip
/// at 255 instead; the documentation promises 8-bit RGB, not Pillow's values, for 16-bit files).
/// </summary>
[TestClass]
public sealed class DecodedPixelTests
{
    // The scanline bytes HostileImages.Rows writes: pixel byte k of row y (after the row's filter byte).
    static byte Sample(int width, int bytesPerPixel, int y, int k) => (byte)((y * (1 + width * bytesPerPixel) + 1 + k) * 37);

    static byte[] Expected(string name, int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                (byte r, byte g, byte b) = name switch
                {
                    "gray.png" => Gray(Sample(width, 1, y, x)),
                    "gray-alpha.png" => Gray(Sample(width, 2, y, 2 * x)),
                    "rgba.png" => (Sample(width, 4, y, 4 * x), Sample(width, 4, y, 4 * x + 1), Sample(width, 4, y, 4 * x + 2)),
                    "rgb-16bit.png" => (Sample(width, 6, y, 6 * x), Sample(width, 6, y, 6 * x + 2), Sample(width, 6, y, 6 * x + 4)),
                    "gray-16bit.png" => Gray(Sample(width, 2, y, 2 * x)),
                    "gray-1bit.png" => ((y == 0 ? 0b10101010 : 0b01010101) >> (7 - x) & 1) == 1 ? Gray(255) : Gray(0),
                    "palette.png" => Palette[(y == 0 ? new[] { 0, 1, 2, 1 } : new[] { 2, 1, 0, 0 })[x]],
                    _ => throw new ArgumentException(name),
                };
                int at = (y * width + x) * 3;
                (rgb[at], rgb[at + 1], rgb[at + 2]) = (r, g, b);
            }
        return rgb;
    }

    static (byte, byte, byte) Gray(int v) => ((byte)v, (byte)v, (byte)v);

    static readonly (byte, byte, byte)[] Palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255)];

    [TestMethod]
    [DataRow("gray.png")]
    [DataRow("gray-alpha.png")]
    [DataRow("rgba.png")]
    [DataRow("rgb-16bit.png")]
    [DataRow("gray-16bit.png")]
    [DataRow("gray-1bit.png")]
    [DataRow("palette.png")]
    public void UnusualPngsDecodeToTheirPixelValues(string name)
    {
        var c = HostileImages.All().Single(h => h.Name == name);
        var image = RgbImage.Decode(c.Bytes, name);
        var (width, height) = c.Decodes!.Value;
        var expected = Expected(name, width, height);
        Assert.HasCount(expected.Length, image.Pixels);
        int differing = expected.Zip(image.Pixels).Count(p => p.First != p.Second);
        int worst = expected.Zip(image.Pixels).Max(p => Math.Abs(p.First - p.Second));
        Console.WriteLine($"{name}: {differing} of {expected.Length} values differ from those written, by at most {worst}");
        CollectionAssert.AreEqual(expected, image.Pixels);
    }
}
