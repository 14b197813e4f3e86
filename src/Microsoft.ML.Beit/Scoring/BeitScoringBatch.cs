using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// Reads a batch of images through a reader, applies the invalid-image policy, and featurizes the
/// readable ones in one forward pass. Shared by the batched cursor and the one-row mapper.
/// </summary>
internal static class BeitScoringBatch
{
    /// <summary>
    /// Scores for up to <paramref name="maxRows"/> rows: <paramref name="moveNext"/> advances to the next
    /// row (false at the end of the data) and <paramref name="readImage"/> reads its image. Unreadable
    /// images throw with the row's description, or become NaN vectors and are counted in <paramref name="skipped"/>.
    /// </summary>
    public static float[][] Run(IBeitImageScorer scorer, int maxRows, Func<bool> moveNext, Func<int, RgbImage> readImage,
        Func<int, string> describeRow, ref long skipped)
    {
        var images = new List<RgbImage>(maxRows);
        var readable = new List<int>(maxRows);
        var result = new List<float[]>(maxRows);
        for (int i = 0; i < maxRows && moveNext(); i++)
        {
            result.Add(null!);
            try
            {
                images.Add(readImage(i));
                readable.Add(i);
            }
            catch (Exception e) when (e is not OutOfMemoryException && e is not OperationCanceledException)
            {
                if (scorer.InvalidImage == BeitInvalidImageHandling.Throw)
                    throw new InvalidOperationException(
                        $"Cannot read the image of {describeRow(i)}: {e.Message} (set the options' InvalidImage = Skip to give such rows NaN outputs instead).", e);
                var nan = new float[scorer.RowSize];
                Array.Fill(nan, float.NaN);
                result[i] = nan;
                skipped++;
            }
        }
        if (images.Count > 0)
        {
            var features = scorer.Score(images);
            for (int k = 0; k < readable.Count; k++) result[readable[k]] = features[k];
        }
        return [.. result];
    }

    /// <summary>Reports skipped images once, as ML.NET warnings do.</summary>
    public static void ReportSkipped(IHost host, long skipped)
    {
        if (skipped == 0) return;
        using var channel = host.Start("BEiT scoring");
        channel.Warning($"{host.ContextDescription}: {skipped} image(s) could not be read and got NaN outputs (InvalidImage = Skip).");
    }
}
