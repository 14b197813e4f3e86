namespace Microsoft.ML.Beit.Training;

/// <summary>
/// Seeds derived from a run's seed and a position (epoch, batch, row). Unlike <see cref="HashCode"/>, which is
/// randomised per process, these are the same in every process, so a run resumed after a crash draws the same
/// numbers as the uninterrupted one.
/// </summary>
internal static class Seeds
{
    /// <summary>A non-negative seed mixing the given values (SplitMix64 finaliser over each).</summary>
    public static int Derive(params long[] values)
    {
        ulong state = 0x9E3779B97F4A7C15;
        foreach (long v in values)
        {
            state ^= (ulong)v + 0x9E3779B97F4A7C15 + (state << 6) + (state >> 2);
            state = (state ^ (state >> 30)) * 0xBF58476D1CE4E5B9;
            state = (state ^ (state >> 27)) * 0x94D049BB133111EB;
            state ^= state >> 31;
        }
        return (int)(state & int.MaxValue);
    }
}
