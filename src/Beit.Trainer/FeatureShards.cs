using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.Beit;
using Parquet;
using Parquet.Schema;

namespace Beit.Trainer;

/// <summary>
/// <c>beit featurize</c> at scale: the image list from a manifest, one shard of it, and the shard's Parquet part, written
/// atomically and skipped when a complete part for the same rows and settings is already there.
/// </summary>
internal sealed class FeatureShardFlags
{
    /// <summary>Kubernetes sets this in every pod of an Indexed Job: the pod's index, 0 to completions - 1.</summary>
    public const string JobIndexVariable = "JOB_COMPLETION_INDEX";

    public Option<string?> Manifest { get; } = new("--manifest")
    {
        Description = "The images to featurize, in order, instead of --images: a text file with one path a line, or a Parquet file " +
            "with a string column 'path'. Relative paths are relative to the manifest's folder.",
    };

    public Option<string?> Shard { get; } = new("--shard")
    {
        Description = $"K/N: featurize only shard K (0 to N-1) of N, contiguous rows K*M/N to (K+1)*M/N - 1 of the M images, into " +
            $"--output DIR as part-K-of-N.parquet, written atomically and skipped when complete. auto/N takes K from {JobIndexVariable} " +
            "(a Kubernetes Indexed Job).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Manifest);
        command.Options.Add(Shard);
    }
}

/// <summary>One shard of N: rows [M*Index/N, M*(Index+1)/N) of a list of M images.</summary>
internal sealed record FeatureShard(int Index, int Count)
{
    /// <summary>Reads <c>K/N</c> or <c>auto/N</c> (K from <see cref="FeatureShardFlags.JobIndexVariable"/>).</summary>
    public static FeatureShard Parse(string value, Func<string, string?> environment)
    {
        var parts = value.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1)
            throw new UsageException($"--shard '{value}' should be K/N or auto/N with N a whole number of at least 1, for example 0/4 or auto/4.");
        string index = parts[0];
        if (index == "auto")
        {
            index = environment(FeatureShardFlags.JobIndexVariable)
                ?? throw new UsageException($"--shard auto/{count} takes the shard from {FeatureShardFlags.JobIndexVariable}, which is not set; " +
                    "Kubernetes sets it in the pods of an Indexed Job. Elsewhere give the shard, for example --shard 0/" + count + ".");
        }
        if (!int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out int k) || k >= count)
            throw new UsageException($"Shard '{index}' (from --shard {value}) should be a whole number from 0 to {count - 1}.");
        return new FeatureShard(k, count);
    }

    public (int Start, int End) Rows(int total) => ((int)((long)total * Index / Count), (int)((long)total * (Index + 1) / Count));

    /// <summary><c>part-K-of-N.parquet</c>, K padded to N's digits so that the parts list in order.</summary>
    public string PartName
    {
        get
        {
            string count = Count.ToString(CultureInfo.InvariantCulture);
            return $"part-{Index.ToString(CultureInfo.InvariantCulture).PadLeft(count.Length, '0')}-of-{count}.parquet";
        }
    }

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>"3-6 of 11" for rows 3 to 6 (end exclusive: 7), "none of 2" for an empty shard.</summary>
    public static string DescribeRows(int start, int end, int total) => end > start ? $"{start}-{end - 1} of {total}" : $"none of {total}";
}

/// <summary>The image list of a manifest: a text file (a path a line) or a Parquet file with a string column <c>path</c>.</summary>
internal static class FeatureManifest
{
    /// <summary>The entries as listed, and each resolved against the manifest's folder.</summary>
    public static (List<string> Listed, List<string> Files) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Manifest '{path}' does not exist.", path);
        var listed = path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? ReadParquet(path) : ReadText(path);
        if (listed.Count == 0) throw new InvalidDataException($"Manifest '{path}' lists no images.");
        string folder = Path.GetDirectoryName(path) ?? "";
        // Full, tidied paths ("a/./b" is "a/b"), so that a row's path is the same however --manifest was spelled or wherever the tool ran.
        return (listed, listed.Select(p => Path.GetFullPath(Path.IsPathRooted(p) ? p : Path.Combine(folder, p))).ToList());
    }

    static List<string> ReadText(string path) =>
        File.ReadLines(path).Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();

    static List<string> ReadParquet(string path) => Task.Run(async () =>
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        var field = reader.Schema.DataFields.FirstOrDefault(f => f.Name == "path" && f.Path.Length == 1)
            ?? throw new InvalidDataException($"Manifest '{path}' has no column 'path'; it has {string.Join(", ", reader.Schema.DataFields.Select(f => f.Path.ToString()))}.");
        if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>))
            throw new InvalidDataException($"Column 'path' of manifest '{path}' holds {field.ClrType.Name}, not strings.");
        var paths = new List<string>();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var values = new string?[group.RowCount];
            await group.ReadAsync(field, values.AsMemory());
            for (int i = 0; i < values.Length; i++)
                paths.Add(values[i] ?? throw new InvalidDataException($"Row {paths.Count} of manifest '{path}' has no path."));
        }
        return paths;
    }).GetAwaiter().GetResult();
}

/// <summary>A shard's part file: what it must hold, whether it already does, and the atomic write.</summary>
internal static class FeatureParts
{
    public const string ShardKey = "beit.shard", RowsKey = "beit.shard_rows", PathsKey = "beit.paths_sha256";

    /// <summary>The metadata that identifies a shard's rows: which shard, which rows of how many, and a hash of their paths.</summary>
    public static Dictionary<string, string> Identity(FeatureShard shard, int start, int end, int total, IEnumerable<string> listed)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', listed)));
        return new Dictionary<string, string>
        {
            [ShardKey] = shard.ToString(),
            [RowsKey] = FeatureShard.DescribeRows(start, end, total),
            [PathsKey] = Convert.ToHexStringLower(hash),
        };
    }

    /// <summary>The metadata key of <c>--model</c> as given.</summary>
    public const string ModelKey = "beit.model";

    /// <summary>The metadata key of <see cref="ModelFiles"/>.</summary>
    public const string ModelFilesKey = "beit.model_files";

    /// <summary>
    /// The model's files as they are on disk: each one's name (relative to a model folder), length and last write time, so
    /// that a part made with a model since replaced in place does not count as complete, however the path is spelled.
    /// </summary>
    public static string ModelFiles(string model)
    {
        static string Describe(FileInfo file, string name) => $"{name} {file.Length} {file.LastWriteTimeUtc:O}";
        if (File.Exists(model)) return Describe(new FileInfo(model), Path.GetFileName(model));
        if (!Directory.Exists(model)) return "(none)";
        return string.Join("; ", Directory.EnumerateFiles(model, "*", SearchOption.AllDirectories)
            .Select(f => (File: new FileInfo(f), Name: Path.GetRelativePath(model, f).Replace('\\', '/')))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => Describe(f.File, f.Name)));
    }

    /// <summary>
    /// True when <paramref name="part"/> is a complete part with <paramref name="rows"/> rows and every key of
    /// <paramref name="expected"/>; false when it is missing or unreadable (it is redone). A readable part written for other rows
    /// or settings stops the run: redoing it silently would mix two runs' results in one folder.
    /// </summary>
    public static bool IsComplete(string part, long rows, IReadOnlyDictionary<string, string> expected)
    {
        if (!File.Exists(part)) return false;
        IReadOnlyDictionary<string, string> found;
        long written;
        try
        {
            (found, written) = Task.Run(async () =>
            {
                await using var reader = await ParquetReader.CreateAsync(part);
                return ((IReadOnlyDictionary<string, string>)reader.CustomMetadata, reader.Metadata?.NumRows ?? -1);
            }).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ParquetException or ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine($"{part} is not a readable Parquet file ({e.Message}); featurizing the shard again.");
            return false;
        }
        foreach (var (key, value) in expected)
        {
            // The model as written on the command line ("m.zip", "./m.zip") only informs; its files (ModelFiles) decide.
            if (key == ModelKey) continue;
            string had = found.TryGetValue(key, out var v) ? v : "(none)";
            if (had != value)
                throw new InvalidOperationException($"{part} was written with {key} {had}; this run has {value}. " +
                    "Delete the part (or choose another --output folder) to featurize the shard again.");
        }
        if (written != rows)
            throw new InvalidOperationException($"{part} holds {written} rows; the shard has {rows}. Delete the part to featurize the shard again.");
        return true;
    }

    /// <summary>
    /// Writes through a temporary file in the part's folder, renamed into place once complete: the part is either absent or
    /// whole, whenever the process stops. Temporary files of this part that a killed run left are removed first.
    /// </summary>
    public static void WriteAtomically(string part, Action<string> write)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(part))!;
        Directory.CreateDirectory(folder);
        string prefix = "." + Path.GetFileName(part) + ".";
        foreach (var stale in Directory.EnumerateFiles(folder, prefix + "*.tmp")) File.Delete(stale);
        string temporary = Path.Combine(folder, $"{prefix}{Guid.NewGuid():N}.tmp");
        try
        {
            write(temporary);
            File.Move(temporary, part, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}

/// <summary>The Parquet output of <c>beit featurize</c>, with progress on stderr and the summary lines on stdout.</summary>
internal static class ParquetFeatureOutput
{
    public static void Write(Microsoft.ML.MLContext ml, Microsoft.ML.IDataView scored, string featureColumn, string outputPath, int total,
        IReadOnlyDictionary<string, string> metadata)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long done = 0;
        var progress = new SynchronousProgress(rows =>
        {
            done = rows;
            if (rows % 8 == 0 || rows == total)
                Console.Error.Write($"\rfeaturized {rows}/{total} images, {rows / clock.Elapsed.TotalSeconds:F1} images/s   ");
        });
        FeatureParts.WriteAtomically(outputPath, temporary =>
        {
            using var stream = File.Create(temporary);
            ml.Data.SaveFeaturesAsParquet(scored, stream, featureColumn, "Path", metadata, progress);
        });
        if (done > 0) Console.Error.WriteLine();
        Console.WriteLine($"Images {done}");
        Console.WriteLine($"ImagesPerSecond {done / clock.Elapsed.TotalSeconds:F2}");
        Console.WriteLine($"Output {outputPath}");
    }

    // Progress<T> posts to the thread pool; the count must be current when the write returns.
    sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
