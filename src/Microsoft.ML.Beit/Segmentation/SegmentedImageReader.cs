using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>Streams (image, label map) batches from an image column and a label-map column (an image or a PNG path).</summary>
internal sealed class SegmentedImageReader(string imageColumn, string labelColumn, string dataName)
{
    /// <summary>Checks that both columns exist and hold images; errors name the column and what it holds.</summary>
    public void CheckSchema(DataViewSchema schema)
    {
        ImageColumn.Find(schema, imageColumn);
        var label = schema.GetColumnOrNull(labelColumn)
            ?? throw new ArgumentOutOfRangeException(nameof(schema),
                $"Label-map column '{labelColumn}' is not in the {dataName} (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (!ImageColumn.IsSupported(label.Type))
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Label-map column '{labelColumn}' is {label.Type}; it must be {ImageColumn.Kinds} whose gray values are class ids.");
    }

    static Func<string>? PathGetter(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type is not TextDataViewType) return null;
        var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
        ReadOnlyMemory<char> value = default;
        return () =>
        {
            getter(ref value);
            return value.ToString();
        };
    }


    /// <summary>
    /// Batches of decoded images with their label maps, after skipping <paramref name="skipBatches"/> whole batches. An
    /// unreadable image, a colored label map or a size mismatch stops with an error naming the row.
    /// </summary>
    public IEnumerable<(List<SegmentedImage> Samples, long FirstRow)> Batches(IDataView data, int batchSize, int skipBatches)
    {
        var image = data.Schema[imageColumn];
        var label = data.Schema[labelColumn];
        using var cursor = data.GetRowCursor([image, label]);
        var readImage = ImageColumn.Reader(cursor, image);
        var readLabels = LabelMapColumn.Reader(cursor, label);
        // Paths name a sample better than a row number (training reads the rows shuffled).
        var imagePath = PathGetter(cursor, image);
        var labelPath = PathGetter(cursor, label);
        long row = 0;
        for (long skip = (long)skipBatches * batchSize; skip > 0 && cursor.MoveNext(); skip--) row++;
        var samples = new List<SegmentedImage>(batchSize);
        while (cursor.MoveNext())
        {
            string where = imagePath is not null && labelPath is not null
                ? $"the {dataName} sample '{imagePath()}' with label map '{labelPath()}'"
                : $"row {row} of the {dataName} (columns '{imageColumn}', '{labelColumn}')";
            try
            {
                var picture = readImage(where);
                var (labels, width, height) = readLabels(where + ", label map");
                SegmentedImage.CheckSize(width, height, picture, where);
                samples.Add(new SegmentedImage(picture, labels) { Source = where });
            }
            catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
            {
                throw new InvalidOperationException(e.Message.StartsWith(where, StringComparison.Ordinal) ? e.Message : $"Cannot use {where}: {e.Message}", e);
            }
            row++;
            if (samples.Count == batchSize)
            {
                yield return (samples, row - samples.Count);
                samples = new List<SegmentedImage>(batchSize);
            }
        }
        if (samples.Count > 0) yield return (samples, row - samples.Count);
    }
}
