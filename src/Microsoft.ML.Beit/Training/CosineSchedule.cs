namespace Microsoft.ML.Beit.Training;

/// <summary>
/// unilm's <c>cosine_scheduler</c>, per iteration: a linear warmup from <paramref name="startWarmupValue"/> to
/// <paramref name="baseValue"/> over the warmup iterations (endpoints included), then a half cosine from the base
/// value down to <paramref name="finalValue"/> over the remaining iterations.
/// </summary>
internal sealed class CosineSchedule(double baseValue, double finalValue, int totalIterations, int warmupIterations, double startWarmupValue = 0)
{
    /// <summary>Iterations in the whole run.</summary>
    public int TotalIterations { get; } = totalIterations;

    /// <summary>The value at iteration <paramref name="iteration"/> (0-based); past the end, the final value.</summary>
    public double this[int iteration]
    {
        get
        {
            int warmup = Math.Min(warmupIterations, TotalIterations);
            if (iteration < warmup)
                return warmup == 1 ? startWarmupValue : startWarmupValue + (baseValue - startWarmupValue) * iteration / (warmup - 1);
            int decay = TotalIterations - warmup;
            if (iteration >= TotalIterations || decay <= 0) return finalValue;
            int t = iteration - warmup;
            return finalValue + 0.5 * (baseValue - finalValue) * (1 + Math.Cos(Math.PI * t / decay));
        }
    }
}
