using Microsoft.ML.Beit.Pretraining;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The statistics masking/masking.json records for unilm's generator, measured the same way over a run of masks:
/// masked patches, rectangles placed and connected masked regions per mask.
/// </summary>
internal sealed class MaskStatistics
{
    /// <summary>Masks with each count of masked patches.</summary>
    public Dictionary<int, int> Masked { get; } = [];

    /// <summary>Masks with each count of rectangles placed.</summary>
    public Dictionary<int, int> Rectangles { get; } = [];

    /// <summary>Masks with each count of 4-connected masked regions.</summary>
    public Dictionary<int, int> Components4 { get; } = [];

    /// <summary>Masks with each count of 8-connected masked regions (diagonal neighbours join).</summary>
    public Dictionary<int, int> Components8 { get; } = [];

    int _samples;

    /// <summary>Draws <paramref name="samples"/> consecutive masks from one random stream and tallies them.</summary>
    public static MaskStatistics Measure(BlockwiseMaskingGenerator generator, Random random, int samples)
    {
        var statistics = new MaskStatistics { _samples = samples };
        for (int i = 0; i < samples; i++)
        {
            bool[] mask = generator.Next(random, out int rectangles);
            Add(statistics.Masked, mask.Count(m => m));
            Add(statistics.Rectangles, rectangles);
            Add(statistics.Components4, CountComponents(mask, generator.Height, generator.Width, diagonal: false));
            Add(statistics.Components8, CountComponents(mask, generator.Height, generator.Width, diagonal: true));
        }
        return statistics;
    }

    /// <summary>Mean masked patches per mask.</summary>
    public double MeanMasked => Mean(Masked);

    /// <summary>Fewest masked patches in one mask.</summary>
    public int MinMasked => Masked.Keys.Min();

    /// <summary>Most masked patches in one mask.</summary>
    public int MaxMasked => Masked.Keys.Max();

    /// <summary>Share of masks with exactly <paramref name="count"/> masked patches.</summary>
    public double FractionAt(int count) => Masked.GetValueOrDefault(count) / (double)_samples;

    /// <summary>Mean rectangles placed per mask.</summary>
    public double MeanRectangles => Mean(Rectangles);

    /// <summary>Mean 4-connected masked regions per mask.</summary>
    public double Mean4Components => Mean(Components4);

    /// <summary>Mean 8-connected masked regions per mask.</summary>
    public double Mean8Components => Mean(Components8);

    double Mean(Dictionary<int, int> histogram) => histogram.Sum(p => (double)p.Key * p.Value) / _samples;

    static void Add(Dictionary<int, int> histogram, int value) => histogram[value] = histogram.GetValueOrDefault(value) + 1;

    static int CountComponents(bool[] mask, int height, int width, bool diagonal)
    {
        var seen = new bool[mask.Length];
        var pending = new Stack<int>();
        int components = 0;
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || seen[start]) continue;
            components++;
            seen[start] = true;
            pending.Push(start);
            while (pending.TryPop(out int cell))
            {
                int y = cell / width, x = cell % width;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        if ((dy == 0 && dx == 0) || (!diagonal && dy != 0 && dx != 0)) continue;
                        int ny = y + dy, nx = x + dx;
                        if (ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
                        int next = ny * width + nx;
                        if (!mask[next] || seen[next]) continue;
                        seen[next] = true;
                        pending.Push(next);
                    }
            }
        }
        return components;
    }
}
