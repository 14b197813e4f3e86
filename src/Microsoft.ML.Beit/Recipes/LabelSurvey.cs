using Microsoft.ML.Beit.Segmentation;

namespace Microsoft.ML.Beit.Recipes;

/// <summary>
/// What the segmentation recipe reads from the first training samples before training starts: the images' typical size
/// and how the labelled pixels spread over the classes.
/// </summary>
internal sealed class LabelSurvey
{
    /// <summary>How many of the first training samples the survey reads.</summary>
    public const int SampleSize = 256;

    readonly long[] _pixels;

    LabelSurvey(int typicalSide, long[] pixels)
    {
        TypicalSide = typicalSide;
        _pixels = pixels;
    }

    /// <summary>The median side of the sampled images (square root of the area), in pixels.</summary>
    public int TypicalSide { get; }

    /// <summary>The share of the labelled sampled pixels that the most frequent class covers (0 when none is labelled).</summary>
    public double LargestClassShare => _pixels.Sum() is long total and > 0 ? (double)_pixels.Max() / total : 0;

    /// <summary>
    /// Each class's loss weight under <see cref="BeitClassWeighting.Balanced"/>: the inverse square root of its share of the
    /// labelled pixels, normalised to a mean of 1 over the classes seen; a class never seen weighs 1.
    /// </summary>
    public float[] BalancedWeights()
    {
        long total = _pixels.Sum();
        var raw = _pixels.Select(n => n > 0 ? 1 / Math.Sqrt((double)n / total) : double.NaN).ToArray();
        double mean = raw.Where(w => !double.IsNaN(w)).DefaultIfEmpty(1).Average();
        return [.. raw.Select(w => double.IsNaN(w) ? 1f : (float)(w / mean))];
    }

    /// <summary>Reads up to <see cref="SampleSize"/> samples from the start of <paramref name="data"/>.</summary>
    public static LabelSurvey Read(SegmentedImageReader reader, IDataView data, int classes, int ignoreIndex, bool reduceLabels)
    {
        var pixels = new long[classes];
        var sides = new List<double>();
        foreach (var (samples, _) in reader.Batches(data, 32, 0))
        {
            foreach (var sample in samples)
            {
                if (sides.Count == SampleSize) break;
                sides.Add(Math.Sqrt((double)sample.Image.Width * sample.Image.Height));
                foreach (long target in SegmentedImage.Targets(sample.Labels, classes, ignoreIndex, reduceLabels, sample.Source))
                    if (target >= 0 && target < classes) pixels[target]++;
            }
            if (sides.Count == SampleSize) break;
        }
        sides.Sort();
        return new LabelSurvey((int)Math.Round(sides[sides.Count / 2]), pixels);
    }
}
