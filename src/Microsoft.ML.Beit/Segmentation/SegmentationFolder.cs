namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// Reads a segmentation data set laid out as ADE20K ships it (ADEChallengeData2016):
/// <c>root/images/&lt;split&gt;/NAME.jpg</c> with its label map <c>root/annotations/&lt;split&gt;/NAME.png</c>,
/// and an optional <c>root/classes.txt</c>.
/// </summary>
public static class SegmentationFolder
{

    static string Layout(string root, string split) =>
        $"Expected layout: {Path.Combine(root, "images", split, "NAME.jpg")} (or another of {BeitImageFiles.Listed}) with its label map {Path.Combine(root, "annotations", split, "NAME.png")}.";

    /// <summary>
    /// Pairs every image of <c>root/images/&lt;split&gt;</c> with the label map of the same name (stem) in
    /// <c>root/annotations/&lt;split&gt;</c>, sorted by image file name (ordinal) so every run sees the same order.
    /// Label maps without an image are ignored; images without a label map are an error.
    /// </summary>
    /// <param name="root">The data set folder (ADEChallengeData2016 for ADE20K).</param>
    /// <param name="split">The split's folder name: <c>training</c> or <c>validation</c> for ADE20K; any name works.</param>
    /// <exception cref="DirectoryNotFoundException">The root, its images folder or its annotations folder is missing.</exception>
    /// <exception cref="InvalidDataException">The images folder has no images, two images share a name, or images have no label map.</exception>
    public static IReadOnlyList<SegmentationSample> Read(string root, string split)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentException.ThrowIfNullOrEmpty(split);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Segmentation data folder '{root}' does not exist. {Layout(root, split)}");
        string images = Path.Combine(root, "images", split), annotations = Path.Combine(root, "annotations", split);
        if (!Directory.Exists(images))
        {
            string imagesRoot = Path.Combine(root, "images");
            string found = Directory.Exists(imagesRoot) && Directory.GetDirectories(imagesRoot) is { Length: > 0 } splits
                ? $" It has the splits: {string.Join(", ", splits.Select(Path.GetFileName).Order(StringComparer.Ordinal))}."
                : "";
            throw new DirectoryNotFoundException($"Images folder '{images}' for split '{split}' does not exist.{found} {Layout(root, split)}");
        }
        if (!Directory.Exists(annotations))
            throw new DirectoryNotFoundException($"Annotations folder '{annotations}' for split '{split}' does not exist. {Layout(root, split)}");

        var files = BeitImageFiles.Find(images, recursive: false);
        if (files.Count == 0)
            throw new InvalidDataException($"Images folder '{images}' holds no images ({BeitImageFiles.Listed}). {Layout(root, split)}");

        // Two images with one stem would share one label map, and only one of them can be what it annotates.
        var duplicate = files.GroupBy(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidDataException($"Images {string.Join(" and ", duplicate.Select(f => $"'{f}'"))} share the name '{duplicate.Key}', so they would share one label map; keep one of them.");

        var samples = new List<SegmentationSample>(files.Count);
        var missing = new List<string>();
        foreach (string image in files)
        {
            string label = Path.Combine(annotations, Path.GetFileNameWithoutExtension(image) + ".png");
            if (File.Exists(label)) samples.Add(new SegmentationSample(image, label));
            else missing.Add($"'{image}' (expected '{label}')");
        }
        if (missing.Count > 0)
            throw new InvalidDataException(
                $"{missing.Count} of {files.Count} images of split '{split}' have no label map: {string.Join(", ", missing.Take(5))}" +
                (missing.Count > 5 ? $" and {missing.Count - 5} more" : "") + ". Add the label maps or remove those images.");
        return samples;
    }

    /// <summary>
    /// The class names of <c>root/classes.txt</c>: one name a line, line i (counting from 0) naming class id i as the
    /// model predicts it. Trailing blank lines are ignored. Empty when the file does not exist.
    /// </summary>
    /// <param name="root">The data set folder.</param>
    /// <exception cref="InvalidDataException">A line before the last name is blank, which would shift every later class id.</exception>
    public static IReadOnlyList<string> ReadClassNames(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        string path = Path.Combine(root, "classes.txt");
        if (!File.Exists(path)) return [];
        var names = File.ReadAllLines(path).Select(l => l.Trim()).ToList();
        while (names.Count > 0 && names[^1].Length == 0) names.RemoveAt(names.Count - 1);
        int blank = names.FindIndex(n => n.Length == 0);
        if (blank >= 0)
            throw new InvalidDataException($"Line {blank + 1} of '{path}' is blank; every line names one class (line i names class id i - 1), so a blank line would shift the ids of the classes after it.");
        return names;
    }
}
