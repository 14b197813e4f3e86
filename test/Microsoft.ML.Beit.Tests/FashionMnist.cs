using System.IO.Compression;
using SkiaSharp;

namespace Microsoft.ML.Beit.Tests;

/// <summary>The Fashion-MNIST subset the repository ships (samples/data/fashion-mnist), as PNG bytes and labels.</summary>
internal static class FashionMnist
{
    public static readonly string[] ClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    public sealed class Example
    {
        public byte[] Image { get; set; } = [];
        public string Label { get; set; } = "";
    }

    public static string Directory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Beit.ML.sln")))
                    return Path.Combine(dir.FullName, "samples", "data", "fashion-mnist");
            throw new DirectoryNotFoundException("Cannot find the repository root (Beit.ML.sln) above the test assembly.");
        }
    }

    /// <summary>The first <paramref name="count"/> images of the training ("train") or test ("t10k") subset, PNG-encoded.</summary>
    public static List<Example> Load(string kind, int count)
    {
        byte[] images = Gunzip(Path.Combine(Directory, $"{kind}-images-idx3-ubyte.gz"));
        byte[] labels = Gunzip(Path.Combine(Directory, $"{kind}-labels-idx1-ubyte.gz"));
        int available = BigEndian(images, 4), rows = BigEndian(images, 8), cols = BigEndian(images, 12);
        count = Math.Min(count, available);
        var result = new List<Example>(count);
        for (int i = 0; i < count; i++)
        {
            var gray = images.AsSpan(16 + i * rows * cols, rows * cols).ToArray();
            using var image = SKImage.FromPixelCopy(new SKImageInfo(cols, rows, SKColorType.Gray8, SKAlphaType.Opaque), gray, cols);
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            result.Add(new Example { Image = png.ToArray(), Label = ClassNames[labels[8 + i]] });
        }
        return result;
    }

    static int BigEndian(byte[] bytes, int offset) => bytes[offset] << 24 | bytes[offset + 1] << 16 | bytes[offset + 2] << 8 | bytes[offset + 3];

    static byte[] Gunzip(string path)
    {
        using var input = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }
}
