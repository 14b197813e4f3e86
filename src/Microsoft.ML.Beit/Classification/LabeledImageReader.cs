using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Classification;

/// <summary>Streams (image, class index) batches from an image column and a key label column.</summary>
internal sealed class LabeledImageReader(string imageColumn, string labelColumn, int classes, string dataName)
{

    /// <summary>
    /// Batches of decoded images and 0-based class indices, after skipping <paramref name="skipBatches"/> whole batches
    /// (whose images are not decoded). A missing label or an unreadable image stops with an error naming the row.
    /// </summary>
    public IEnumerable<(List<RgbImage> Images, long[] Targets, long FirstRow)> Batches(IDataView data, int batchSize, int skipBatches)
    {
        var image = ImageColumn.Find(data.Schema, imageColumn);
        var label = data.Schema[labelColumn];
        using var cursor = data.GetRowCursor([image, label]);
        var readImage = ImageColumn.Reader(cursor, image);
        var getLabel = cursor.GetGetter<uint>(label);
        long row = 0;
        for (long skip = (long)skipBatches * batchSize; skip > 0 && cursor.MoveNext(); skip--) row++;

        var images = new List<RgbImage>(batchSize);
        var targets = new List<long>(batchSize);
        uint key = 0;
        while (cursor.MoveNext())
        {
            string where = $"row {row} of the {dataName} (columns '{imageColumn}', '{labelColumn}')";
            getLabel(ref key);
            if (key == 0 || key > classes)
                throw new InvalidOperationException($"{where} has a missing label (a value the label's MapValueToKey did not know); remove such rows or map them first.");
            try
            {
                images.Add(readImage(where));
            }
            catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
            {
                throw new InvalidOperationException($"Cannot train on {where}: {e.Message}", e);
            }
            targets.Add(key - 1);
            row++;
            if (images.Count == batchSize)
            {
                yield return (images, targets.ToArray(), row - images.Count);
                images = new List<RgbImage>(batchSize);
                targets.Clear();
            }
        }
        if (images.Count > 0) yield return (images, targets.ToArray(), row - images.Count);
    }
}
