using System.IO.Compression;
using SkiaSharp;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Malformed and unusual image files, made byte by byte where no encoder makes them.</summary>
internal static class HostileImages
{
    /// <summary>An input and what it should give: a size when it must decode, or null when it must be refused.</summary>
    public sealed record Case(string Name, byte[] Bytes, (int Width, int Height)? Decodes);

    public static IEnumerable<Case> All()
    {
        var png = Encode(Gradient(40, 30), SKEncodedImageFormat.Png);
        var jpeg = Encode(Gradient(40, 30), SKEncodedImageFormat.Jpeg);
        var webp = Encode(Gradient(40, 30), SKEncodedImageFormat.Webp);
        yield return new("ordinary.png", png, (40, 30));
        yield return new("ordinary.jpg", jpeg, (40, 30));
        yield return new("ordinary.webp", webp, (40, 30));
        yield return new("jpeg-named.png", jpeg, (40, 30));               // wrong extension: content decides
        yield return new("png-named.jpg", png, (40, 30));
        yield return new("zero-bytes.png", [], null);
        yield return new("one-byte.png", [0x89], null);
        yield return new("png-signature-only.png", png[..8], null);
        yield return new("png-header-only.png", png[..33], null);
        yield return new("truncated-half.png", png[..(png.Length / 2)], null);
        yield return new("truncated-half.jpg", jpeg[..(jpeg.Length / 2)], null);
        yield return new("truncated-header.jpg", jpeg[..20], null);
        yield return new("truncated.webp", webp[..(webp.Length / 2)], null);
        yield return new("text.png", "this is not an image\n"u8.ToArray(), null);
        yield return new("random-noise.jpg", Noise(4096, 1), null);
        yield return new("corrupt-crc.png", CorruptCrc(png), null);
        yield return new("one-pixel.png", Png(1, 1, bitDepth: 8, colorType: 2, [0, 255, 0, 0]), (1, 1));
        yield return new("gray.png", Png(5, 4, 8, 0, Rows(5, 4, 1)), (5, 4));
        yield return new("gray-alpha.png", Png(5, 4, 8, 4, Rows(5, 4, 2)), (5, 4));
        yield return new("rgba.png", Png(5, 4, 8, 6, Rows(5, 4, 4)), (5, 4));
        yield return new("rgb-16bit.png", Png(5, 4, 16, 2, Rows(5, 4, 6)), (5, 4));
        yield return new("gray-16bit.png", Png(5, 4, 16, 0, Rows(5, 4, 2)), (5, 4));
        yield return new("gray-1bit.png", Png(8, 2, 1, 0, [0, 0b10101010, 0, 0b01010101]), (8, 2));
        yield return new("palette.png", PalettePng(), (4, 2));
        yield return new("bomb-20000x20000.png", Png(20000, 20000, 8, 2, new byte[20000 * 3 + 1], rowsGiven: 1), null);
        yield return new("zero-width.png", Png(0, 5, 8, 2, []), null);
        yield return new("cmyk.jpg", Convert.FromBase64String(CmykJpeg), (8, 6));
        yield return new("exif-rotated.jpg", WithExifOrientation(jpeg, 6), (40, 30));   // orientation not applied, as Pillow's open
        yield return new("animated.gif", Gif(animated: true), (3, 2));
        yield return new("still.gif", Gif(animated: false), (3, 2));
        yield return new("tiny.bmp", Bmp(3, 2), (3, 2));
        yield return new("bmp-header-claims-more.bmp", Bmp(3, 2)[..40], null);
    }

    // An 8x6 four-channel (CMYK, Adobe marker) JPEG, written for this test with libjpeg 2.1 (in_color_space JCS_CMYK, quality 95).
    const string CmykJpeg = "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwACAQEBAQECAQEBAgICAgIEAwICAgIFBAQDBAYFBgYGBQYGBgcJCAYHCQcGBggLCAkKCgoKCgYICwwLCgwJCgoK/8AAFAgABgAIBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwDyP/g3c/5gX/bP+lU/+IcT4A/899L/APAdv/iaK/E+v//Z";

    static SKBitmap Gradient(int width, int height)
    {
        var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)(x * 6), (byte)(y * 8), 128));
        return bitmap;
    }

    static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using (bitmap)
        using (var image = SKImage.FromBitmap(bitmap))
        using (var data = image.Encode(format, 90))
            return data.ToArray();
    }

    static byte[] Noise(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    static byte[] CorruptCrc(byte[] png)
    {
        var copy = (byte[])png.Clone();
        copy[29] ^= 0xFF;   // the IHDR chunk's CRC
        return copy;
    }

    // Unfiltered scanlines (filter byte 0 each) of bytesPerPixel-byte pixels, values varying.
    static byte[] Rows(int width, int height, int bytesPerPixel)
    {
        var rows = new byte[height * (1 + width * bytesPerPixel)];
        for (int i = 0; i < rows.Length; i++) rows[i] = i % (1 + width * bytesPerPixel) == 0 ? (byte)0 : (byte)(i * 37);
        return rows;
    }

    static byte[] Png(int width, int height, byte bitDepth, byte colorType, byte[] scanlines, int rowsGiven = -1)
    {
        using var stream = new MemoryStream();
        stream.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BigEndian(header, 0, width);
        BigEndian(header, 4, height);
        header[8] = bitDepth;
        header[9] = colorType;
        Chunk(stream, "IHDR", header);
        Chunk(stream, "IDAT", Deflate(scanlines));
        Chunk(stream, "IEND", []);
        return stream.ToArray();
    }

    static byte[] PalettePng()
    {
        using var stream = new MemoryStream();
        var png = Png(4, 2, 8, 3, [0, 0, 1, 2, 1, 0, 2, 1, 0, 0]);
        // Insert a PLTE chunk (3 colours) after IHDR (8 + 25 bytes).
        stream.Write(png, 0, 33);
        Chunk(stream, "PLTE", [255, 0, 0, 0, 255, 0, 0, 0, 255]);
        stream.Write(png, 33, png.Length - 33);
        return stream.ToArray();
    }

    static byte[] Deflate(byte[] data)
    {
        using var output = new MemoryStream();
        using (var z = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true)) z.Write(data);
        return output.ToArray();
    }

    static void Chunk(Stream stream, string type, byte[] data)
    {
        var length = new byte[4];
        BigEndian(length, 0, data.Length);
        stream.Write(length);
        var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        stream.Write(typed);
        var crc = new byte[4];
        BigEndian(crc, 0, (int)Crc32(typed));
        stream.Write(crc);
    }

    static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    static void BigEndian(byte[] target, int offset, int value)
    {
        target[offset] = (byte)(value >> 24);
        target[offset + 1] = (byte)(value >> 16);
        target[offset + 2] = (byte)(value >> 8);
        target[offset + 3] = (byte)value;
    }

    // An APP1 Exif segment (big-endian TIFF, one IFD entry: Orientation) right after the JPEG's SOI marker.
    static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        byte[] tiff = [(byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, (byte)(orientation >> 8), (byte)orientation, 0, 0, 0, 0, 0, 0];
        byte[] payload = [.. "Exif\0\0"u8.ToArray(), .. tiff];
        int length = payload.Length + 2;
        byte[] segment = [0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload];
        return [.. jpeg[..2], .. segment, .. jpeg[2..]];
    }

    // A 3x2 GIF89a with a 4-colour table; LZW data for 6 pixels of colour 1 (code size 2). Two frames when animated.
    static byte[] Gif(bool animated)
    {
        byte[] header = [.. "GIF89a"u8.ToArray(), 3, 0, 2, 0, 0x81, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
        byte[] frame = [0x21, 0xF9, 4, 0, 10, 0, 0, 0, 0x2C, 0, 0, 0, 0, 3, 0, 2, 0, 0, 2, 3, 0x8C, 0x2D, 0x05, 0];
        byte[] loop = [0x21, 0xFF, 11, .. "NETSCAPE2.0"u8.ToArray(), 3, 1, 0, 0, 0];
        return animated ? [.. header, .. loop, .. frame, .. frame, 0x3B] : [.. header, .. frame, 0x3B];
    }

    static byte[] Bmp(int width, int height)
    {
        int rowBytes = (width * 3 + 3) / 4 * 4, size = 54 + rowBytes * height;
        var bmp = new byte[size];
        bmp[0] = (byte)'B';
        bmp[1] = (byte)'M';
        BitConverter.TryWriteBytes(bmp.AsSpan(2), size);
        BitConverter.TryWriteBytes(bmp.AsSpan(10), 54);
        BitConverter.TryWriteBytes(bmp.AsSpan(14), 40);
        BitConverter.TryWriteBytes(bmp.AsSpan(18), width);
        BitConverter.TryWriteBytes(bmp.AsSpan(22), height);
        BitConverter.TryWriteBytes(bmp.AsSpan(26), (short)1);
        BitConverter.TryWriteBytes(bmp.AsSpan(28), (short)24);
        for (int i = 54; i < size; i++) bmp[i] = (byte)(i * 13);
        return bmp;
    }
}
