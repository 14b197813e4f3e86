using System.Globalization;
using static System.FormattableString;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// BEiT's blockwise masking for masked image modeling, the algorithm of unilm's <c>MaskingGenerator</c>
/// (<c>beit/masking_generator.py</c>): rectangles of at least <see cref="MinNumPatches"/> patches with a log-uniform
/// aspect ratio are dropped on the patch grid until <see cref="NumMaskingPatches"/> patches are masked. BEiT
/// pretraining masks 75 of the 14x14 patches (about 40 %) this way.
/// </summary>
/// <remarks>
/// Like unilm, a mask can end short of <see cref="NumMaskingPatches"/>: a rectangle never adds more patches than are
/// still wanted, and after ten placements in a row that add nothing the generator stops (about a third of BEiT's
/// masks have 64-74 patches).
/// </remarks>
public sealed class BlockwiseMaskingGenerator
{
    // unilm gives each rectangle ten tries before it gives up on the whole mask.
    const int AttemptsPerBlock = 10;

    readonly double _logAspectMin, _logAspectMax;

    /// <summary>Creates a generator; the defaults are BEiT's pretraining settings for 224x224 images and 16x16 patches.</summary>
    /// <param name="height">Patch rows of the grid. Default 14.</param>
    /// <param name="width">Patch columns of the grid. Default 14.</param>
    /// <param name="numMaskingPatches">Patches to mask per image. Default 75.</param>
    /// <param name="minNumPatches">Smallest area a rectangle aims for, in patches. Default 16.</param>
    /// <param name="maxNumPatches">Largest area a rectangle aims for, in patches; null (the default) means <paramref name="numMaskingPatches"/>.</param>
    /// <param name="minAspect">Smallest height/width ratio of a rectangle. Default 0.3.</param>
    /// <param name="maxAspect">Largest height/width ratio of a rectangle; null (the default) means 1 / <paramref name="minAspect"/>.</param>
    public BlockwiseMaskingGenerator(int height = 14, int width = 14, int numMaskingPatches = 75, int minNumPatches = 16,
        int? maxNumPatches = null, double minAspect = 0.3, double? maxAspect = null)
    {
        // A rectangle must be strictly smaller than the grid both ways (unilm's rule), so a single row or column never masks.
        if (height < 2 || width < 2)
            throw new ArgumentOutOfRangeException(height < 2 ? nameof(height) : nameof(width),
                $"The grid is {height}x{width} patches; blockwise masking needs at least 2x2 because every rectangle is smaller than the grid in both directions.");
        if (numMaskingPatches < 1 || numMaskingPatches > height * width)
            throw new ArgumentOutOfRangeException(nameof(numMaskingPatches),
                $"numMaskingPatches is {numMaskingPatches}, but a {height}x{width} grid has {height * width} patches; give 1 to {height * width}.");
        if (minNumPatches < 1 || minNumPatches > numMaskingPatches)
            throw new ArgumentOutOfRangeException(nameof(minNumPatches),
                $"minNumPatches is {minNumPatches}; it must be between 1 and numMaskingPatches ({numMaskingPatches}).");
        int maxPatches = maxNumPatches ?? numMaskingPatches;
        if (maxPatches < minNumPatches)
            throw new ArgumentOutOfRangeException(nameof(maxNumPatches),
                $"maxNumPatches is {maxPatches}, below minNumPatches ({minNumPatches}); give at least {minNumPatches} or null for numMaskingPatches.");
        if (!(minAspect > 0) || double.IsInfinity(minAspect))
            throw new ArgumentOutOfRangeException(nameof(minAspect), Invariant($"minAspect is {minAspect}; an aspect ratio must be a positive finite number (BEiT uses 0.3)."));
        double resolvedMaxAspect = maxAspect ?? 1 / minAspect;
        if (!(resolvedMaxAspect > 0) || double.IsInfinity(resolvedMaxAspect))
            throw new ArgumentOutOfRangeException(nameof(maxAspect), Invariant($"maxAspect is {resolvedMaxAspect}; an aspect ratio must be a positive finite number."));
        if (resolvedMaxAspect < minAspect)
            throw new ArgumentOutOfRangeException(maxAspect is null ? nameof(minAspect) : nameof(maxAspect),
                Invariant($"The aspect range {minAspect} to {resolvedMaxAspect} is empty{(maxAspect is null
                    ? " (maxAspect defaults to 1 / minAspect, so minAspect must be at most 1)."
                    : "; maxAspect must be at least minAspect.")}"));

        Height = height;
        Width = width;
        NumMaskingPatches = numMaskingPatches;
        MinNumPatches = minNumPatches;
        MaxNumPatches = maxPatches;
        MinAspect = minAspect;
        MaxAspect = resolvedMaxAspect;
        _logAspectMin = Math.Log(minAspect);
        _logAspectMax = Math.Log(resolvedMaxAspect);
    }

    /// <summary>Patch rows of the grid.</summary>
    public int Height { get; }

    /// <summary>Patch columns of the grid.</summary>
    public int Width { get; }

    /// <summary>Patches masked per image when every rectangle finds room (the usual case).</summary>
    public int NumMaskingPatches { get; }

    /// <summary>Smallest area a rectangle aims for, in patches.</summary>
    public int MinNumPatches { get; }

    /// <summary>Largest area a rectangle aims for, in patches (<see cref="NumMaskingPatches"/> unless set).</summary>
    public int MaxNumPatches { get; }

    /// <summary>Smallest height/width ratio of a rectangle.</summary>
    public double MinAspect { get; }

    /// <summary>Largest height/width ratio of a rectangle (1 / <see cref="MinAspect"/> unless set).</summary>
    public double MaxAspect { get; }

    /// <summary>
    /// Draws one mask: <see cref="Height"/> * <see cref="Width"/> flags in row-major patch order, true = masked.
    /// The same <see cref="Random"/> state gives the same mask.
    /// </summary>
    public bool[] Next(Random random) => Next(random, out _);

    /// <summary>
    /// Draws one mask as <see cref="Next(Random)"/> does and reports in <paramref name="rectangles"/> how many
    /// rectangles added patches to it (overlapping or touching rectangles may merge into one masked region).
    /// </summary>
    public bool[] Next(Random random, out int rectangles)
    {
        ArgumentNullException.ThrowIfNull(random);
        var mask = new bool[Height * Width];
        int masked = 0;
        rectangles = 0;
        while (masked < NumMaskingPatches)
        {
            int added = PlaceRectangle(mask, Math.Min(NumMaskingPatches - masked, MaxNumPatches), random);
            if (added == 0) break;
            masked += added;
            rectangles++;
        }
        return mask;
    }

    /// <summary>unilm's repr, e.g. <c>Generator(14, 14 -> [16 ~ 75], max = 75, -1.204 ~ 1.204)</c> (aspects as logs).</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"Generator({Height}, {Width} -> [{MinNumPatches} ~ {MaxNumPatches}], max = {NumMaskingPatches}, {_logAspectMin:F3} ~ {_logAspectMax:F3})");

    // One rectangle that adds between 1 and `budget` unmasked patches; returns how many it added, 0 after ten misses.
    // The draws (uniform area, log-uniform aspect, then top and left only for a rectangle that fits) are unilm's, in
    // unilm's order, so a Random that replays Python's stream replays unilm's masks.
    int PlaceRectangle(bool[] mask, int budget, Random random)
    {
        for (int attempt = 0; attempt < AttemptsPerBlock; attempt++)
        {
            double area = Uniform(random, MinNumPatches, budget);
            double aspect = Math.Exp(Uniform(random, _logAspectMin, _logAspectMax));
            // Math.Round rounds halves to even, as Python's round does.
            int h = (int)Math.Round(Math.Sqrt(area * aspect)), w = (int)Math.Round(Math.Sqrt(area / aspect));
            if (w >= Width || h >= Height) continue;
            int top = random.Next(0, Height - h + 1), left = random.Next(0, Width - w + 1);
            int fresh = 0;
            for (int y = top; y < top + h; y++)
                for (int x = left; x < left + w; x++)
                    if (!mask[y * Width + x]) fresh++;
            // A rectangle that is already covered, or that would overshoot the patches still wanted, is a miss.
            if (fresh == 0 || fresh > budget) continue;
            for (int y = top; y < top + h; y++)
                mask.AsSpan(y * Width + left, w).Fill(true);
            return fresh;
        }
        return 0;
    }

    // Python's random.uniform(a, b); b may be below a when few patches are still wanted, which it allows too.
    static double Uniform(Random random, double a, double b) => a + (b - a) * random.NextDouble();
}
