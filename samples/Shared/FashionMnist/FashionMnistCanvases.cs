using Microsoft.ML.Beit.Segmentation;

namespace Beit.SampleData;

/// <summary>
/// Composes a small segmentation data set from real images: Fashion-MNIST items, resized and scattered on black
/// canvases, each labelled with its class where it is bright enough to be seen. It gives segmentation tests and
/// samples data with known truth, written in the ADE20K layout so it reads like a user's own data. Demo data, not
/// part of the library: the console samples, the <c>beit</c> tool and the tests compile this folder.
/// </summary>
internal static class FashionMnistCanvases
{
    /// <summary>
    /// Writes <c>images/training</c>, <c>annotations/training</c>, <c>images/validation</c> and <c>annotations/validation</c>
    /// (gray canvases and 8-bit label maps, both <c>canvas_NNNNN.png</c>) and <c>classes.txt</c> under
    /// <see cref="FashionMnistCanvasOptions.OutputFolder"/>. Label 0 is background, 1..K the chosen classes in order.
    /// Items are drawn one after another, each over the ones before, in the image and in the label map alike.
    /// Training canvases use the IDX training items, validation canvases the test items, so no item is in both.
    /// The same options write byte-identical files. <c>canvas_*.png</c> files already in those folders are deleted
    /// first, so a smaller second run leaves no stale canvases; other files are left alone.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    /// <exception cref="FileNotFoundException">An IDX file is missing from the source folder.</exception>
    /// <exception cref="InvalidDataException">An IDX file is corrupt, or has no item of a chosen class.</exception>
    public static FashionMnistCanvasSet Generate(FashionMnistCanvasOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int[] classes = Validate(options);
        var names = new List<string> { "background" };
        names.AddRange(classes.Select(c => FashionMnistIdx.ClassNames[c]));

        Directory.CreateDirectory(options.OutputFolder);
        // Separate streams per split, so changing one split's count leaves the other's canvases as they were.
        WriteSplit(options, classes, "train", "training", options.TrainingCanvases, new Random(options.Seed));
        WriteSplit(options, classes, "t10k", "validation", options.ValidationCanvases, new Random(options.Seed ^ 0x5EED_7A1D));
        File.WriteAllText(Path.Combine(options.OutputFolder, "classes.txt"), string.Join("\n", names) + "\n");
        return new FashionMnistCanvasSet(options.OutputFolder, names, options.TrainingCanvases, options.ValidationCanvases, options.CanvasSize);
    }

    static int[] Validate(FashionMnistCanvasOptions o)
    {
        if (string.IsNullOrEmpty(o.SourceFolder)) throw new ArgumentException("SourceFolder is required: the folder of the Fashion-MNIST IDX .gz files.", nameof(o.SourceFolder));
        if (string.IsNullOrEmpty(o.OutputFolder)) throw new ArgumentException("OutputFolder is required: where the canvases are written.", nameof(o.OutputFolder));
        if (o.CanvasSize < 8) throw new ArgumentException($"CanvasSize is {o.CanvasSize}; it must be at least 8 pixels.", nameof(o.CanvasSize));
        if (o.TrainingCanvases < 0 || o.ValidationCanvases < 0)
            throw new ArgumentException($"TrainingCanvases ({o.TrainingCanvases}) and ValidationCanvases ({o.ValidationCanvases}) cannot be negative.", nameof(o.TrainingCanvases));
        if (o.MinItemsPerCanvas < 1 || o.MaxItemsPerCanvas < o.MinItemsPerCanvas)
            throw new ArgumentException($"Items per canvas {o.MinItemsPerCanvas}..{o.MaxItemsPerCanvas}: the minimum must be at least 1 and not above the maximum.", nameof(o.MinItemsPerCanvas));
        if (!(o.MinItemScale > 0) || !(o.MaxItemScale >= o.MinItemScale) || double.IsInfinity(o.MaxItemScale))
            throw new ArgumentException($"Item scale {o.MinItemScale}..{o.MaxItemScale}: the minimum must be above 0 and not above the (finite) maximum.", nameof(o.MinItemScale));
        if (!(o.Threshold >= 0 && o.Threshold < 1))
            throw new ArgumentException($"Threshold is {o.Threshold}; it must be in [0, 1), a fraction of full intensity.", nameof(o.Threshold));
        int[] classes = o.Classes is { Count: > 0 } chosen ? [.. chosen] : [.. Enumerable.Range(0, FashionMnistIdx.ClassNames.Length)];
        int bad = Array.FindIndex(classes, c => c < 0 || c >= FashionMnistIdx.ClassNames.Length);
        if (bad >= 0)
            throw new ArgumentException($"Classes holds {classes[bad]}; Fashion-MNIST classes are 0..{FashionMnistIdx.ClassNames.Length - 1} ({string.Join(", ", FashionMnistIdx.ClassNames)}).", nameof(o.Classes));
        if (classes.Distinct().Count() != classes.Length)
            throw new ArgumentException($"Classes [{string.Join(", ", classes)}] lists a class twice; each class gets one label id.", nameof(o.Classes));
        return classes;
    }

    static void WriteSplit(FashionMnistCanvasOptions o, int[] classes, string kind, string split, int count, Random random)
    {
        string images = Path.Combine(o.OutputFolder, "images", split), annotations = Path.Combine(o.OutputFolder, "annotations", split);
        foreach (string folder in new[] { images, annotations })
        {
            Directory.CreateDirectory(folder);
            foreach (string stale in Directory.GetFiles(folder, "canvas_*.png")) File.Delete(stale);
        }
        if (count == 0) return;

        var source = FashionMnistIdx.Read(o.SourceFolder, kind);
        // Items by class, so each item's class is drawn uniformly from the chosen ones whatever the source's balance.
        var pools = classes.Select(c => Enumerable.Range(0, source.Count).Where(i => source.Labels[i] == c).ToArray()).ToArray();
        for (int k = 0; k < classes.Length; k++)
            if (pools[k].Length == 0)
                throw new InvalidDataException($"The Fashion-MNIST {kind} files in '{o.SourceFolder}' have no item of class {classes[k]} ({FashionMnistIdx.ClassNames[classes[k]]}).");

        int size = o.CanvasSize;
        var canvas = new byte[size * size];
        var labels = new byte[size * size];
        var item = new float[size * size];
        float threshold = (float)(o.Threshold * 255);
        for (int n = 0; n < count; n++)
        {
            Array.Clear(canvas);
            Array.Clear(labels);
            int items = random.Next(o.MinItemsPerCanvas, o.MaxItemsPerCanvas + 1);
            for (int i = 0; i < items; i++)
            {
                int k = random.Next(classes.Length);
                var pool = pools[k];
                int index = pool[random.Next(pool.Length)];
                double scale = o.MinItemScale + (o.MaxItemScale - o.MinItemScale) * random.NextDouble();
                int side = Math.Clamp((int)Math.Round(source.Columns * scale), 1, size);
                int left = random.Next(size - side + 1), top = random.Next(size - side + 1);
                ResizeBilinear(source.Item(index), source.Columns, source.Rows, item, side);
                for (int y = 0; y < side; y++)
                    for (int x = 0; x < side; x++)
                    {
                        float v = item[y * side + x];
                        if (v <= threshold) continue;
                        int p = (top + y) * size + left + x;
                        canvas[p] = (byte)Math.Min(255f, v + 0.5f);
                        labels[p] = (byte)(k + 1);
                    }
            }
            string name = $"canvas_{n:D5}.png";
            // The canvas is an 8-bit gray PNG, the same format as its label map.
            SegmentationLabelMap.Write(Path.Combine(images, name), canvas, size, size);
            SegmentationLabelMap.Write(Path.Combine(annotations, name), labels, size, size);
        }
    }

    // Bilinear with pixel centres aligned (align_corners=False) and edges clamped; float output, so the threshold
    // sees the interpolated intensity rather than a rounded one.
    static void ResizeBilinear(ReadOnlySpan<byte> input, int width, int height, float[] output, int side)
    {
        float sx = (float)width / side, sy = (float)height / side;
        for (int y = 0; y < side; y++)
        {
            float fy = Math.Clamp((y + 0.5f) * sy - 0.5f, 0, height - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, height - 1);
            float wy = fy - y0;
            for (int x = 0; x < side; x++)
            {
                float fx = Math.Clamp((x + 0.5f) * sx - 0.5f, 0, width - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, width - 1);
                float wx = fx - x0;
                float top = input[y0 * width + x0] * (1 - wx) + input[y0 * width + x1] * wx;
                float bottom = input[y1 * width + x0] * (1 - wx) + input[y1 * width + x1] * wx;
                output[y * side + x] = top * (1 - wy) + bottom * wy;
            }
        }
    }
}
