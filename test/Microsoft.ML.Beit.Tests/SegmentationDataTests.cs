using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;
using SkiaSharp;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Segmentation data: label-map PNGs, the ADE20K folder layout, the Fashion-MNIST canvases and mask pictures.</summary>
[TestClass]
public sealed class SegmentationDataTests
{
    static string folder = "";

    [ClassInitialize]
    public static void CreateFolder(TestContext _) => folder = TinyModels.TempDirectory();

    [ClassCleanup]
    public static void DeleteFolder()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    [TestMethod]
    public void ALabelMapRoundTripsAsAn8BitGrayscalePng()
    {
        var ids = new byte[37 * 23];
        new Random(3).NextBytes(ids);
        string path = Path.Combine(folder, "round", "trip", "map.png");
        SegmentationLabelMap.Write(path, ids, 37, 23);
        var read = SegmentationLabelMap.Read(path, out int width, out int height);
        byte[] file = File.ReadAllBytes(path);
        Console.WriteLine($"{width}x{height} ids 0-255 in {file.Length} bytes; PNG bit depth {file[24]}, colour type {file[25]} (0 = gray)");
        Assert.AreEqual((37, 23), (width, height));
        CollectionAssert.AreEqual(ids, read);
        Assert.AreEqual((8, 0), ((int)file[24], (int)file[25]), "8-bit grayscale");
        var error = Assert.ThrowsExactly<ArgumentException>(() => SegmentationLabelMap.Write(path, ids, 36, 23));
        Console.WriteLine(error.Message);
    }

    [TestMethod]
    public void GrayRgbAndGrayPaletteMapsGiveTheirValues()
    {
        byte[] ids = [0, 1, 2, 3, 150, 254, 255, 7];
        string rgb = Path.Combine(folder, "gray-rgb.png"), palette = Path.Combine(folder, "gray-palette.png");
        WriteSkiaRgba(rgb, ids.Select(v => (v, v, v, (byte)255)).ToArray(), 4, 2);
        WritePng(palette, 4, 2, bitDepth: 8, colorType: 3, ids, plte: Enumerable.Range(0, 256).SelectMany(k => new[] { (byte)k, (byte)k, (byte)k }).ToArray());
        foreach (string path in new[] { rgb, palette })
        {
            var read = SegmentationLabelMap.Read(path, out int width, out int height);
            Console.WriteLine($"{Path.GetFileName(path)}: {width}x{height} -> [{string.Join(", ", read)}]");
            CollectionAssert.AreEqual(ids, read);
        }
    }

    [TestMethod]
    public void AColouredMapIsRejectedNamingTheFile()
    {
        string rgb = Path.Combine(folder, "coloured.png"), palette = Path.Combine(folder, "voc-palette.png");
        WriteSkiaRgba(rgb, [(0, 0, 0, 255), (128, 0, 0, 255), (0, 128, 0, 255), (0, 0, 0, 255)], 2, 2);
        WritePng(palette, 2, 2, bitDepth: 8, colorType: 3, [0, 1, 1, 0], plte: [0, 0, 0, 128, 0, 0]);
        foreach (string path in new[] { rgb, palette })
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationLabelMap.Read(path, out _, out _));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, path);
            StringAssert.Contains(error.Message, "class ids as gray values");
            StringAssert.Contains(error.Message, "(x 1, y 0) = (128, 0, 0)");
        }
    }

    [TestMethod]
    public void MapsWhoseDecodedValuesAreNotTheStoredIdsAreRejected()
    {
        string wide = Path.Combine(folder, "sixteen.png"), narrow = Path.Combine(folder, "one-bit.png"), jpeg = Path.Combine(folder, "map.jpg");
        WritePng(wide, 2, 1, bitDepth: 16, colorType: 0, [0, 3, 0, 7]);
        WritePng(narrow, 8, 1, bitDepth: 1, colorType: 0, [0b0101_0101]);
        WriteSkiaRgba(jpeg, Enumerable.Repeat(((byte)3, (byte)3, (byte)3, (byte)255), 64).ToArray(), 8, 8, SKEncodedImageFormat.Jpeg);
        foreach (var (path, cause) in new[] { (wide, "16-bit"), (narrow, "1-bit"), (jpeg, "JPEG") })
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationLabelMap.Read(path, out _, out _));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, path);
            StringAssert.Contains(error.Message, cause);
        }
    }

    [TestMethod]
    public void EmptyTruncatedCorruptAndMissingMapsGiveClearErrors()
    {
        string valid = Path.Combine(folder, "valid.png");
        var ids = new byte[64 * 64];
        new Random(5).NextBytes(ids);
        SegmentationLabelMap.Write(valid, ids, 64, 64);
        byte[] bytes = File.ReadAllBytes(valid);
        var cases = new (string Name, byte[] Bytes, string Cause)[]
        {
            ("empty.png", [], "empty (0 bytes)"),
            ("truncated.png", bytes[..(bytes.Length / 2)], "truncated or corrupt"),
            ("header-only.png", bytes[..40], "corrupt"),
            ("text.png", "not a png at all"u8.ToArray(), "not an image that can be decoded"),
        };
        foreach (var (name, content, cause) in cases)
        {
            string path = Path.Combine(folder, name);
            File.WriteAllBytes(path, content);
            var error = Assert.Throws<InvalidDataException>(() => SegmentationLabelMap.Read(path, out _, out _));
            Console.WriteLine($"{name} ({content.Length} bytes): {error.Message}");
            StringAssert.Contains(error.Message, path);
            StringAssert.Contains(error.Message, cause);
        }
        string missing = Path.Combine(folder, "missing.png");
        var notFound = Assert.ThrowsExactly<FileNotFoundException>(() => SegmentationLabelMap.Read(missing, out _, out _));
        Console.WriteLine(notFound.Message);
        StringAssert.Contains(notFound.Message, missing);
    }

    [TestMethod]
    public void TheFolderPairsImagesWithTheirLabelMapsInNameOrder()
    {
        string root = Path.Combine(folder, "ade");
        foreach (string name in new[] { "b.jpg", "a.png", "C.webp", "c.bmp" }) Touch(root, "images", "training", name);
        foreach (string name in new[] { "a.png", "b.png", "c.png", "C.png", "orphan.png" }) Touch(root, "annotations", "training", name);
        Touch(root, "images", "training", "notes.txt");

        var samples = SegmentationFolder.Read(root, "training");
        foreach (var s in samples) Console.WriteLine($"{Path.GetFileName(s.ImagePath)} -> {Path.GetFileName(s.LabelPath)}");
        CollectionAssert.AreEqual(new[] { "C.webp", "a.png", "b.jpg", "c.bmp" }, samples.Select(s => Path.GetFileName(s.ImagePath)).ToArray(), "ordinal order, non-images skipped");
        CollectionAssert.AreEqual(new[] { "C.png", "a.png", "b.png", "c.png" }, samples.Select(s => Path.GetFileName(s.LabelPath)).ToArray());
        Assert.AreEqual(Path.Combine(root, "annotations", "training", "b.png"), samples[2].LabelPath);
    }

    [TestMethod]
    public void MissingFoldersAndImagesWithoutLabelMapsAreNamed()
    {
        string root = Path.Combine(folder, "broken");
        for (int i = 0; i < 7; i++) Touch(root, "images", "training", $"img{i}.jpg");
        Touch(root, "annotations", "training", "img3.png");

        var error = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationFolder.Read(root, "training"));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "6 of 7 images");
        StringAssert.Contains(error.Message, Path.Combine(root, "images", "training", "img0.jpg"));
        StringAssert.Contains(error.Message, Path.Combine(root, "annotations", "training", "img0.png"));
        StringAssert.Contains(error.Message, "and 1 more");
        Assert.DoesNotContain("img3", error.Message);

        var split = Assert.ThrowsExactly<DirectoryNotFoundException>(() => SegmentationFolder.Read(root, "validation"));
        Console.WriteLine(split.Message);
        StringAssert.Contains(split.Message, Path.Combine(root, "images", "validation"));
        StringAssert.Contains(split.Message, "It has the splits: training");

        string nowhere = Path.Combine(folder, "nowhere");
        var absent = Assert.ThrowsExactly<DirectoryNotFoundException>(() => SegmentationFolder.Read(nowhere, "training"));
        Console.WriteLine(absent.Message);
        StringAssert.Contains(absent.Message, nowhere);
        StringAssert.Contains(absent.Message, Path.Combine("annotations", "training", "NAME.png"));

        Touch(root, "images", "training", "img3.png");
        var twins = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationFolder.Read(root, "training"));
        Console.WriteLine(twins.Message);
        StringAssert.Contains(twins.Message, "share the name 'img3'");
    }

    [TestMethod]
    public void ClassNamesComeFromClassesTxtWhenThereIsOne()
    {
        string root = Path.Combine(folder, "names");
        Directory.CreateDirectory(root);
        Assert.IsEmpty(SegmentationFolder.ReadClassNames(root), "no classes.txt: no names");
        File.WriteAllText(Path.Combine(root, "classes.txt"), "background\r\nwall \nbuilding\n\n");
        var names = SegmentationFolder.ReadClassNames(root);
        Console.WriteLine(string.Join(" | ", names));
        CollectionAssert.AreEqual(new[] { "background", "wall", "building" }, names.ToArray());
        File.WriteAllText(Path.Combine(root, "classes.txt"), "background\n\nbuilding\n");
        var error = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationFolder.ReadClassNames(root));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "Line 2");
    }

    [TestMethod]
    public void CanvasesAreDeterministicWithTheRightCountsAndLabels()
    {
        FashionMnistCanvasOptions Options(string output) => new() { SourceFolder = FashionMnist.Directory, OutputFolder = output, TrainingCanvases = 40, ValidationCanvases = 10 };
        string first = Path.Combine(folder, "canvases-1"), second = Path.Combine(folder, "canvases-2");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var set = FashionMnistCanvases.Generate(Options(first));
        var elapsed = clock.Elapsed;
        FashionMnistCanvases.Generate(Options(second));

        var files = Directory.GetFiles(first, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(first, f)).Order(StringComparer.Ordinal).ToList();
        int differing = files.Count(f => !File.ReadAllBytes(Path.Combine(first, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(second, f))));
        Console.WriteLine($"{files.Count} files in {elapsed.TotalMilliseconds:F0} ms; {differing} differ between two runs with the same options");
        Assert.AreEqual(0, differing);
        Assert.AreEqual(2 * 50 + 1, files.Count, "an image and a label map per canvas, and classes.txt");
        CollectionAssert.AreEqual(Directory.GetFiles(second, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(second, f)).Order(StringComparer.Ordinal).ToList(), files);

        CollectionAssert.AreEqual(new[] { "background", "T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot" }, set.ClassNames.ToArray());
        CollectionAssert.AreEqual(set.ClassNames.ToArray(), SegmentationFolder.ReadClassNames(first).ToArray());
        var counts = new long[set.ClassNames.Count];
        foreach (var (split, expected) in new[] { ("training", 40), ("validation", 10) })
        {
            var samples = SegmentationFolder.Read(first, split);
            Assert.HasCount(expected, samples);
            foreach (var sample in samples)
            {
                var labels = SegmentationLabelMap.Read(sample.LabelPath, out int width, out int height);
                var image = RgbImage.Load(sample.ImagePath);
                Assert.AreEqual((64, 64, 64, 64), (width, height, image.Width, image.Height));
                Assert.IsTrue(labels.All(l => l < set.ClassNames.Count), $"{sample.LabelPath}: labels within 0..{set.ClassNames.Count - 1}");
                Assert.IsTrue(labels.Any(l => l == 0) && labels.Any(l => l != 0), $"{sample.LabelPath} has background and item pixels");
                for (int p = 0; p < labels.Length; p++)
                {
                    counts[labels[p]]++;
                    Assert.AreEqual(labels[p] == 0, image.Pixels[p * 3] == 0, $"{sample.ImagePath} pixel {p}: black exactly where the label is background");
                }
            }
        }
        long total = counts.Sum();
        Console.WriteLine("pixel share per class: " + string.Join(", ", counts.Select((c, i) => $"{set.ClassNames[i]} {100.0 * c / total:F1}%")));
        Assert.IsTrue(counts.All(c => c > 0), "every class appears");

        var fewer = Options(first);
        fewer.TrainingCanvases = 5;
        FashionMnistCanvases.Generate(fewer);
        Assert.HasCount(5, SegmentationFolder.Read(first, "training"), "a smaller second run leaves no stale canvases");
        Assert.IsTrue(File.ReadAllBytes(Path.Combine(first, "annotations", "validation", "canvas_00003.png")).AsSpan()
            .SequenceEqual(File.ReadAllBytes(Path.Combine(second, "annotations", "validation", "canvas_00003.png"))), "validation does not depend on the training count");
    }

    [TestMethod]
    public void ASubsetOfClassesGetsLabelIdsOneToK()
    {
        string output = Path.Combine(folder, "subset");
        var set = FashionMnistCanvases.Generate(new FashionMnistCanvasOptions
        {
            SourceFolder = FashionMnist.Directory, OutputFolder = output, TrainingCanvases = 20, ValidationCanvases = 0,
            Classes = [9, 1, 5], CanvasSize = 32, MinItemsPerCanvas = 1, MaxItemsPerCanvas = 1, Seed = 4,
        });
        var seen = new SortedSet<byte>();
        foreach (var sample in SegmentationFolder.Read(output, "training"))
            seen.UnionWith(SegmentationLabelMap.Read(sample.LabelPath, out _, out _));
        Console.WriteLine($"classes {string.Join(", ", set.ClassNames)}; label values seen {string.Join(", ", seen)}");
        CollectionAssert.AreEqual(new[] { "background", "Ankle_boot", "Trouser", "Sandal" }, set.ClassNames.ToArray());
        CollectionAssert.AreEqual(new byte[] { 0, 1, 2, 3 }, seen.ToArray());
        Assert.IsEmpty(Directory.GetFiles(Path.Combine(output, "images", "validation")));

        var error = Assert.ThrowsExactly<ArgumentException>(() => FashionMnistCanvases.Generate(new FashionMnistCanvasOptions { SourceFolder = FashionMnist.Directory, OutputFolder = output, Classes = [3, 10] }));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "Classes holds 10");
    }

    [TestMethod]
    public void MaskPicturesHaveTheLabelMapsSizeAndColours()
    {
        var palette = SegmentationMaskRendering.Palette(256);
        Console.WriteLine("palette: " + string.Join(" ", palette.Take(6).Select(c => $"({c.R},{c.G},{c.B})")) + $" ... 255 = {palette[255]}");
        Assert.AreEqual(((byte)0, (byte)0, (byte)0), palette[0]);
        Assert.AreEqual(256, palette.Distinct().Count(), "distinct colours");
        CollectionAssert.AreEqual(palette.Take(21).ToArray(), SegmentationMaskRendering.Palette(21).ToArray(), "deterministic");

        const int width = 20, height = 10;
        var ids = new byte[width * height];
        for (int p = 0; p < ids.Length; p++) ids[p] = (byte)(p % width < 10 ? 0 : 2);
        string mask = Path.Combine(folder, "render", "mask.png"), overlay = Path.Combine(folder, "render", "overlay.png"), source = Path.Combine(folder, "render", "image.png");
        SegmentationMaskRendering.WriteColorMask(mask, ids, width, height);
        var maskImage = RgbImage.Load(mask);
        Assert.AreEqual((width, height), (maskImage.Width, maskImage.Height));
        Assert.AreEqual(palette[2], (maskImage.Pixels[15 * 3], maskImage.Pixels[15 * 3 + 1], maskImage.Pixels[15 * 3 + 2]));

        // A 40x20 image of flat gray 100: resized to 20x10 it stays 100, so the blend is exact.
        WriteSkiaRgba(source, Enumerable.Repeat(((byte)100, (byte)100, (byte)100, (byte)255), 40 * 20).ToArray(), 40, 20);
        SegmentationMaskRendering.WriteOverlay(overlay, source, ids, width, height, alpha: 0.5);
        var blended = RgbImage.Load(overlay);
        var background = (blended.Pixels[0], blended.Pixels[1], blended.Pixels[2]);
        var item = (blended.Pixels[15 * 3], blended.Pixels[15 * 3 + 1], blended.Pixels[15 * 3 + 2]);
        Console.WriteLine($"overlay {blended.Width}x{blended.Height}: background pixel {background}, class-2 pixel {item} (image 100 with colour {palette[2]})");
        Assert.AreEqual((width, height), (blended.Width, blended.Height));
        Assert.AreEqual(((byte)100, (byte)100, (byte)100), background, "background is not blended");
        Assert.AreEqual(((byte)50, (byte)114, (byte)50), item, "class 2 (0, 128, 0) blended half and half with gray 100");
    }

    static void Touch(string root, params string[] parts)
    {
        string path = Path.Combine([root, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
    }

    static void WriteSkiaRgba(string path, (byte R, byte G, byte B, byte A)[] pixels, int width, int height, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        var bytes = pixels.SelectMany(p => new[] { p.R, p.G, p.B, p.A }).ToArray();
        using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul), bytes, width * 4);
        using var encoded = image.Encode(format, 95);
        File.WriteAllBytes(path, encoded.ToArray());
    }

    /// <summary>A PNG written byte by byte, for the kinds SkiaSharp cannot encode (palette, 16-bit, 1-bit). <paramref name="samples"/> holds the packed rows without filter bytes.</summary>
    static void WritePng(string path, int width, int height, byte bitDepth, byte colorType, byte[] samples, byte[]? plte = null)
    {
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = bitDepth;
        header[9] = colorType;
        Chunk(file, "IHDR", header);
        if (plte is not null) Chunk(file, "PLTE", plte);
        int rowBytes = samples.Length / height;
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            for (int y = 0; y < height; y++)
            {
                zlib.WriteByte(0);
                zlib.Write(samples, y * rowBytes, rowBytes);
            }
        Chunk(file, "IDAT", compressed.ToArray());
        Chunk(file, "IEND", []);
    }

    static void Chunk(Stream file, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        file.Write(length);
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        file.Write(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        file.Write(crc);
    }

    static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
