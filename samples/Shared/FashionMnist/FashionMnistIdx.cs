using System.IO.Compression;
using SkiaSharp;

namespace Beit.SampleData;

/// <summary>
/// One split of Fashion-MNIST in its gzipped IDX files (<c>{kind}-images-idx3-ubyte.gz</c> and
/// <c>{kind}-labels-idx1-ubyte.gz</c>, kind = <c>train</c> or <c>t10k</c>): 28x28 grayscale items and their labels 0..9.
/// The one IDX reader of the repository: the console samples, the <c>beit</c> tool and the tests compile this folder.
/// </summary>
internal sealed class FashionMnistIdx
{
    const int ImagesMagic = 2051, LabelsMagic = 2049;

    /// <summary>The class names in label order, with '/' and ' ' replaced so they can be file and column names.</summary>
    public static readonly string[] ClassNames = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"];

    readonly byte[] images;

    /// <summary>Items in the files.</summary>
    public int Count { get; }

    /// <summary>Rows of an item (28).</summary>
    public int Rows { get; }

    /// <summary>Columns of an item (28).</summary>
    public int Columns { get; }

    /// <summary>The label (0..9) of each item.</summary>
    public byte[] Labels { get; }

    FashionMnistIdx(byte[] images, byte[] labels, int count, int rows, int columns)
    {
        this.images = images;
        Labels = labels;
        Count = count;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>Item <paramref name="index"/>'s pixels, rows top to bottom, 0 = black background.</summary>
    public ReadOnlySpan<byte> Item(int index) => images.AsSpan(16 + index * Rows * Columns, Rows * Columns);

    /// <summary>Item <paramref name="index"/> as an 8-bit gray PNG file's bytes (what an image column or an image file holds).</summary>
    public byte[] ItemPng(int index)
    {
        using var image = SKImage.FromPixelCopy(new SKImageInfo(Columns, Rows, SKColorType.Gray8, SKAlphaType.Opaque), Item(index).ToArray(), Columns);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>
    /// The repository's bundled subset, samples/data/fashion-mnist (2,000 training and 500 test items), found above the
    /// working folder or the program.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">Neither is inside a clone of the repository.</exception>
    public static string FindBundledFolder()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "samples", "data", "fashion-mnist");
                if (File.Exists(Path.Combine(candidate, "train-images-idx3-ubyte.gz"))) return candidate;
            }
        throw new DirectoryNotFoundException("Cannot find samples/data/fashion-mnist above the working folder or the program; run from the repository (or pass the IDX folder).");
    }

    /// <summary>Reads the images and labels of one split from <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is not gzip, is truncated, has the wrong IDX header, or the two files disagree.</exception>
    public static FashionMnistIdx Read(string folder, string kind)
    {
        string imagesPath = Path.Combine(folder, $"{kind}-images-idx3-ubyte.gz"), labelsPath = Path.Combine(folder, $"{kind}-labels-idx1-ubyte.gz");
        byte[] images = Gunzip(imagesPath), labels = Gunzip(labelsPath);
        if (images.Length < 16 || BigEndian(images, 0) != ImagesMagic)
            throw new InvalidDataException($"'{imagesPath}' is not an IDX image file (expected the magic number {ImagesMagic} in its first 4 bytes).");
        if (labels.Length < 8 || BigEndian(labels, 0) != LabelsMagic)
            throw new InvalidDataException($"'{labelsPath}' is not an IDX label file (expected the magic number {LabelsMagic} in its first 4 bytes).");
        int count = BigEndian(images, 4), rows = BigEndian(images, 8), columns = BigEndian(images, 12), labelCount = BigEndian(labels, 4);
        if (count < 1 || rows < 1 || columns < 1 || 16 + (long)count * rows * columns > images.Length)
            throw new InvalidDataException($"'{imagesPath}' declares {count} images of {rows}x{columns} but holds {images.Length - 16} pixel bytes (truncated?).");
        if (labelCount != count || 8 + (long)labelCount > labels.Length)
            throw new InvalidDataException($"'{labelsPath}' declares {labelCount} labels and holds {labels.Length - 8}, but '{imagesPath}' has {count} images.");
        var values = labels.AsSpan(8, count).ToArray();
        int bad = Array.FindIndex(values, v => v >= ClassNames.Length);
        if (bad >= 0)
            throw new InvalidDataException($"'{labelsPath}' gives item {bad} the label {values[bad]}; Fashion-MNIST labels are 0..{ClassNames.Length - 1}.");
        return new FashionMnistIdx(images, values, count, rows, columns);
    }

    static int BigEndian(byte[] b, int o) => b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3];

    static byte[] Gunzip(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Fashion-MNIST file '{path}' is missing.", path);
        try
        {
            using var input = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var output = new MemoryStream();
            input.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Fashion-MNIST file '{path}' is not valid gzip (corrupt or truncated): {e.Message}", e);
        }
    }
}
