using System.Globalization;
using Microsoft.ML.Data;
using Parquet;
using Parquet.Schema;

namespace Microsoft.ML.Beit.Featurization;

/// <summary>
/// Writes a path column and a feature-vector column of an <see cref="IDataView"/> as Parquet: <c>path</c> (string) and
/// <c>features</c> (a list of float, Parquet's LIST type, which DuckDB reads as FLOAT[] and pyarrow as list&lt;float&gt;).
/// Rows stream through in row groups, so memory holds one group whatever the row count.
/// </summary>
internal static class FeatureParquetWriter
{
    /// <summary>The metadata key holding the length of every feature vector (written when all rows have one length).</summary>
    public const string FeatureSizeKey = "beit.feature_size";

    // About 32 MB of floats per row group: large groups read fast, and Tokens pooling (thousands of floats a row) stays bounded.
    const int FloatsPerRowGroup = 8_000_000;

    public static long Write(IDataView data, Stream stream, string featuresColumnName, string pathColumnName,
        IReadOnlyDictionary<string, string>? metadata, IProgress<long>? progress)
    {
        var pathColumn = data.Schema.GetColumnOrNull(pathColumnName)
            ?? throw new ArgumentException($"The data has no column '{pathColumnName}' for the path column; it has {Names(data)}.", nameof(pathColumnName));
        var featuresColumn = data.Schema.GetColumnOrNull(featuresColumnName)
            ?? throw new ArgumentException($"The data has no column '{featuresColumnName}' for the features; it has {Names(data)}.", nameof(featuresColumnName));
        if (pathColumn.Type is not TextDataViewType)
            throw new ArgumentException($"Column '{pathColumnName}' is {pathColumn.Type}; the path column must be text.", nameof(pathColumnName));
        if (featuresColumn.Type is not VectorDataViewType { ItemType: NumberDataViewType number } || number.RawType != typeof(float))
            throw new ArgumentException($"Column '{featuresColumnName}' is {featuresColumn.Type}; the features must be a vector of float (Single).", nameof(featuresColumnName));
        if (!stream.CanWrite || !stream.CanSeek) throw new ArgumentException("Parquet needs a writable, seekable stream (a FileStream, for example).", nameof(stream));
        int knownSize = ((VectorDataViewType)featuresColumn.Type).Size;
        // Parquet.Net is asynchronous; running it on the thread pool keeps a caller's synchronization context out of it.
        return Task.Run(() => WriteAsync(data, stream, pathColumn, featuresColumn, knownSize, metadata, progress)).GetAwaiter().GetResult();
    }

    static async Task<long> WriteAsync(IDataView data, Stream stream, DataViewSchema.Column pathColumn, DataViewSchema.Column featuresColumn,
        int knownSize, IReadOnlyDictionary<string, string>? metadata, IProgress<long>? progress)
    {
        var pathField = new DataField<string>("path");
        var element = new DataField<float>("element");
        var schema = new ParquetSchema(pathField, new ListField("features", element));
        using var cursor = data.GetRowCursor([pathColumn, featuresColumn]);
        var getPath = cursor.GetGetter<ReadOnlyMemory<char>>(pathColumn);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(featuresColumn);
        ReadOnlyMemory<char> path = default;
        VBuffer<float> vector = default;

        var paths = new List<string>();
        var values = new List<float>();
        var starts = new List<int>();   // where each row's values begin in `values`
        long rows = 0;
        int? size = knownSize > 0 ? knownSize : null;
        bool uniform = true;
        await using var writer = await ParquetWriter.CreateAsync(schema, stream).ConfigureAwait(false);

        async Task Flush()
        {
            if (paths.Count == 0) return;
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(pathField, paths).ConfigureAwait(false);
            var repetition = new int[values.Count];
            Array.Fill(repetition, 1);
            foreach (int start in starts) repetition[start] = 0;   // every row has at least one value (checked as it is read)
            var definition = new int[values.Count];
            Array.Fill(definition, element.MaxDefinitionLevel);
            await group.WriteAllPartsAsync<float>(element, values.ToArray(), definition, repetition, default).ConfigureAwait(false);
            paths.Clear();
            values.Clear();
            starts.Clear();
        }

        while (cursor.MoveNext())
        {
            getPath(ref path);
            getFeatures(ref vector);
            if (vector.Length == 0) throw new InvalidDataException($"Row {rows} of column '{featuresColumn.Name}' is an empty vector; every row needs at least one feature.");
            if (size is null) size = vector.Length;
            else if (size != vector.Length) uniform = false;
            paths.Add(path.ToString());
            starts.Add(values.Count);
            foreach (float v in vector.DenseValues()) values.Add(v);
            rows++;
            progress?.Report(rows);
            if (values.Count >= FloatsPerRowGroup) await Flush().ConfigureAwait(false);
        }
        await Flush().ConfigureAwait(false);

        var custom = new Dictionary<string, string>();
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>()) custom[key] = value;
        if (uniform && size is int features) custom[FeatureSizeKey] = features.ToString(CultureInfo.InvariantCulture);
        writer.CustomMetadata = custom;   // the footer, with this metadata, is written as the writer closes
        return rows;
    }

    static string Names(IDataView data) => string.Join(", ", data.Schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"));
}
