using Microsoft.ML.Beit;

namespace Beit.Trainer;

/// <summary>A labelled image for the classification verbs: a file path and its class name.</summary>
internal sealed class LabeledImage
{
    public string Path { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>Reads classification data: a folder with one subfolder per class, or a CSV of path,label.</summary>
internal static class LabeledImages
{
    public static List<LabeledImage> Load(string data)
    {
        if (Directory.Exists(data))
        {
            var classes = Directory.GetDirectories(data).Order(StringComparer.Ordinal).ToList();
            if (classes.Count == 0)
                throw new InvalidDataException($"'{data}' has no subfolders: put each class's images in a folder named after the class.");
            var images = classes.SelectMany(c => Directory.EnumerateFiles(c, "*", SearchOption.AllDirectories).Where(BeitImageFiles.IsImage).Order(StringComparer.Ordinal)
                .Select(f => new LabeledImage { Path = f, Label = System.IO.Path.GetFileName(c) })).ToList();
            if (images.Count == 0) throw new InvalidDataException($"No images ({string.Join(", ", BeitImageFiles.Extensions)}) in the class folders of '{data}'.");
            return images;
        }
        if (File.Exists(data))
        {
            string baseDirectory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(data))!;
            var rows = new List<LabeledImage>();
            int lineNumber = 0;
            foreach (var line in File.ReadLines(data))
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                int comma = line.LastIndexOf(',');
                if (comma <= 0) throw new InvalidDataException($"{data}, line {lineNumber}: expected 'path,label', found '{line}'.");
                string path = line[..comma].Trim().Trim('"'), label = line[(comma + 1)..].Trim().Trim('"');
                if (lineNumber == 1 && path.Equals("path", StringComparison.OrdinalIgnoreCase)) continue;
                rows.Add(new LabeledImage { Path = System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(baseDirectory, path), Label = label });
            }
            if (rows.Count == 0) throw new InvalidDataException($"{data} lists no images.");
            return rows;
        }
        throw new FileNotFoundException($"Data '{data}' is neither a folder of class folders nor a CSV file.", data);
    }
}
