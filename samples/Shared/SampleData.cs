using Microsoft.ML.Beit;
using Beit.SampleData;
using SkiaSharp;

namespace BeitSamples;

/// <summary>What the console samples share: the bundled Fashion-MNIST subset, the small-settings switch, checks.</summary>
public static class SampleData
{
    /// <summary>
    /// Small settings (fewer images and epochs, for CI): <c>--small</c> on the command line or the environment
    /// variable <c>BEIT_SAMPLES_SMALL=1</c>.
    /// </summary>
    public static bool Small { get; } =
        Environment.GetCommandLineArgs().Contains("--small") || Environment.GetEnvironmentVariable("BEIT_SAMPLES_SMALL") == "1";

    /// <summary>The Fashion-MNIST class names, in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = FashionMnistIdx.ClassNames;

    /// <summary>A Fashion-MNIST image as PNG bytes (a column BEiT reads like a decoded image) and its class name.</summary>
    public sealed class ImageRow
    {
        public byte[] Image { get; set; } = [];
        public string Label { get; set; } = "";
    }

    /// <summary>samples/data/fashion-mnist, found above the working folder or the program.</summary>
    public static string FashionMnistFolder => FashionMnistIdx.FindBundledFolder();

    /// <summary>Images <paramref name="skip"/> .. skip + count - 1 of the bundled "train" (2,000) or "t10k" (500) split.</summary>
    public static List<ImageRow> Load(string kind, int count, int skip = 0)
    {
        var split = FashionMnistIdx.Read(FashionMnistFolder, kind);
        var rows = new List<ImageRow>();
        for (int i = skip; i < Math.Min(split.Count, skip + count); i++)
            rows.Add(new ImageRow { Image = split.ItemPng(i), Label = ClassNames[split.Labels[i]] });
        return rows;
    }

    /// <summary>8-bit gray pixels as a PNG file's bytes.</summary>
    public static byte[] Png(ReadOnlySpan<byte> gray, int width, int height)
    {
        using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), gray.ToArray(), width);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>Stops the sample with a non-zero exit code when a result is not what the sample promises.</summary>
    public static void Check(bool condition, string what)
    {
        Console.WriteLine($"check: {what}: {(condition ? "ok" : "FAILED")}");
        if (!condition) throw new InvalidOperationException($"Sample check failed: {what}");
    }

    /// <summary>Collects training progress synchronously (System.Progress would post it to the thread pool).</summary>
    public sealed class ProgressLog : IProgress<BeitTrainingProgress>
    {
        public List<BeitTrainingProgress> Steps { get; } = [];

        public void Report(BeitTrainingProgress value)
        {
            if (double.IsNaN(value.Loss)) return;
            Steps.Add(value);
            if (value.Step == value.TotalSteps || value.Step % 20 == 0)
                Console.WriteLine($"  epoch {value.Epoch}/{value.Epochs} step {value.Step}/{value.TotalSteps} loss {value.Loss:F3}");
        }
    }

    /// <summary>A temporary folder for what a sample writes.</summary>
    public static string OutputFolder(string name)
    {
        string folder = Path.Combine(Path.GetTempPath(), "beit-samples", name);
        Directory.CreateDirectory(folder);
        return folder;
    }
}
