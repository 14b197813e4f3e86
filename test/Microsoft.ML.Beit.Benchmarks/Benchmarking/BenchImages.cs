using SkiaSharp;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>A temporary folder of generated 256x256 JPEG files (random pixels, quality 90), deleted on dispose.</summary>
internal sealed class BenchImages : IDisposable
{
    public BenchImages(int count, int size = 256)
    {
        Folder = Path.Combine(Path.GetTempPath(), $"beit-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Folder);
        var random = new Random(1);
        var paths = new List<string>(count);
        var pixels = new byte[size * size * 4];
        for (int i = 0; i < count; i++)
        {
            random.NextBytes(pixels);
            using var image = SKImage.FromPixelCopy(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque), pixels, size * 4);
            using var jpeg = image.Encode(SKEncodedImageFormat.Jpeg, 90);
            string path = Path.Combine(Folder, $"{i:D5}.jpg");
            File.WriteAllBytes(path, jpeg.ToArray());
            paths.Add(path);
        }
        Paths = paths;
    }

    /// <summary>The folder, also a place for a benchmark's other temporary files.</summary>
    public string Folder { get; }

    public IReadOnlyList<string> Paths { get; }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }
}
