using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Scoring;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>Streams batches of decoded images from an image column (pretraining reads no labels).</summary>
internal sealed class UnlabeledImageReader(string imageColumn, string dataName)
{

    /// <summary>Batches of images after skipping <paramref name="skipBatches"/> whole batches; an unreadable image stops with an error naming the row.</summary>
    public IEnumerable<(List<RgbImage> Images, long FirstRow)> Batches(IDataView data, int batchSize, int skipBatches)
    {
        var image = ImageColumn.Find(data.Schema, imageColumn);
        using var cursor = data.GetRowCursor([image]);
        var read = ImageColumn.Reader(cursor, image);
        long row = 0;
        for (long skip = (long)skipBatches * batchSize; skip > 0 && cursor.MoveNext(); skip--) row++;
        var images = new List<RgbImage>(batchSize);
        while (cursor.MoveNext())
        {
            string where = $"row {row} of the {dataName} (column '{imageColumn}')";
            try
            {
                images.Add(read(where));
            }
            catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
            {
                throw new InvalidOperationException($"Cannot pretrain on {where}: {e.Message}", e);
            }
            row++;
            if (images.Count == batchSize)
            {
                yield return (images, row - images.Count);
                images = new List<RgbImage>(batchSize);
            }
        }
        if (images.Count > 0) yield return (images, row - images.Count);
    }
}
