using Microsoft.ML.Beit;

namespace Beit.Trainer;

/// <summary>A labelled image for the classification verbs: a file path and its class name.</summary>
internal sealed class LabeledImage
{
    public string Path { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>Reads classification data: a folder with one subfolder per class, or a CSV (RFC 4180) of path,label.</summary>
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
            using var reader = new StreamReader(data);
            foreach (var (line, fields) in Csv.Read(reader))
            {
                if (fields.All(string.IsNullOrWhiteSpace)) continue;
                if (fields.Count < 2)
                    throw new InvalidDataException($"{data}, line {line}: expected 'path,label', found '{Csv.Record(fields)}'.");
                // The label is the last field; an unquoted path may hold commas of its own.
                string path = string.Join(',', fields[..^1]).Trim(), label = fields[^1].Trim();
                if (line == 1 && path.Equals("path", StringComparison.OrdinalIgnoreCase)) continue;
                rows.Add(new LabeledImage { Path = System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(baseDirectory, path), Label = label });
            }
            if (rows.Count == 0) throw new InvalidDataException($"{data} lists no images.");
            return rows;
        }
        throw new FileNotFoundException($"Data '{data}' is neither a folder of class folders nor a CSV file.", data);
    }
}
