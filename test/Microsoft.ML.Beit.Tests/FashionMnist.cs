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
        // The library's reader checks the IDX headers; the tests add the PNG encoding their image columns read.
        var split = Segmentation.FashionMnistIdx.Read(Directory, kind);
        count = Math.Min(count, split.Count);
        var result = new List<Example>(count);
        for (int i = 0; i < count; i++)
        {
            using var image = SKImage.FromPixelCopy(new SKImageInfo(split.Columns, split.Rows, SKColorType.Gray8, SKAlphaType.Opaque), split.Item(i).ToArray(), split.Columns);
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            result.Add(new Example { Image = png.ToArray(), Label = ClassNames[split.Labels[i]] });
        }
        return result;
    }
}
