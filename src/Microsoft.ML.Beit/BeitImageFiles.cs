namespace Microsoft.ML.Beit;

/// <summary>
/// Which files are images: the one list of extensions that the library's folder readers
/// (<see cref="Segmentation.SegmentationFolder.Read"/>, <see cref="Pretraining.DiscreteVaeTrainer.FindImages"/>) and the
/// <c>beit</c> tool go by. Every format listed decodes through the library's image reader.
/// </summary>
public static class BeitImageFiles
{
    /// <summary>The extensions read as images, lower case and matched in any case: .jpg, .jpeg, .png, .bmp, .gif, .webp.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"];

    /// <summary>Whether <paramref name="path"/> ends in one of the <see cref="Extensions"/>, in any case.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The image files in <paramref name="directory"/>, and in its subfolders when <paramref name="recursive"/>, in ordinal
    /// path order (the same order on every machine); empty when there are none.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static IReadOnlyList<string> Find(string directory, bool recursive = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Image folder '{directory}' does not exist.");
        return Directory.EnumerateFiles(directory, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Where(IsImage).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The extensions as a message lists them: ".jpg, .jpeg, ...".</summary>
    internal static string Listed => string.Join(", ", Extensions);
}
