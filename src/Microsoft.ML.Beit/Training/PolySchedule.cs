namespace Microsoft.ML.Beit.Training;

/// <summary>
/// mmsegmentation's <c>poly</c> learning-rate policy with linear warmup, per iteration, as BEiT's segmentation
/// recipe uses it: <c>(base - final) x (1 - i / total)^power + final</c>, and during the first
/// <paramref name="warmupIterations"/> that value times a ramp from <paramref name="warmupRatio"/> to 1.
/// </summary>
internal sealed class PolySchedule(double baseValue, double finalValue, int totalIterations, int warmupIterations, double power = 1.0, double warmupRatio = 1e-6)
{
    /// <summary>Iterations in the whole run.</summary>
    public int TotalIterations { get; } = totalIterations;

    /// <summary>The value at iteration <paramref name="iteration"/> (0-based); past the end, the final value.</summary>
    public double this[int iteration]
    {
        get
        {
            if (iteration >= TotalIterations) return finalValue;
            double regular = (baseValue - finalValue) * Math.Pow(1 - (double)iteration / TotalIterations, power) + finalValue;
            if (iteration >= warmupIterations) return regular;
            double k = (1 - (double)iteration / warmupIterations) * (1 - warmupRatio);
            return regular * (1 - k);
        }
    }
}
