namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>Memory read every <paramref name="Every"/> items of a long run.</summary>
internal sealed record MemoryRun(string Workload, int Count, int Every, long WeightBytes, double Seconds,
    IReadOnlyList<(long Done, MemorySample Sample)> Samples)
{
    /// <summary>The reading after the first <see cref="Every"/> items: the baseline, once the model and buffers are warm (the last reading in a run shorter than that).</summary>
    public MemorySample AfterFirst => Samples.FirstOrDefault(s => s.Done >= Every).Sample ?? Samples[^1].Sample;

    /// <summary>The highest resident set after the first reading, as a fraction above the baseline (0.05 = 5 % growth).</summary>
    public double RssGrowth => (double)Samples.Where(s => s.Done > Every).Select(s => s.Sample.RssBytes).DefaultIfEmpty(AfterFirst.RssBytes).Max() / AfterFirst.RssBytes - 1;

    /// <summary>The resident set at the end, as a fraction above the baseline.</summary>
    public double FinalRssGrowth => (double)Samples[^1].Sample.RssBytes / AfterFirst.RssBytes - 1;

    /// <summary>Native memory (resident set minus the GC's committed memory) at the end minus after the first <see cref="Every"/> items.</summary>
    public long NativeGrowthBytes => Samples[^1].Sample.NativeBytes - AfterFirst.NativeBytes;

    /// <summary>Tensors created outside any dispose scope between the first and the last reading.</summary>
    public long TensorsOutsideScopes => Samples[^1].Sample.TensorsOutsideScopes - Samples[0].Sample.TensorsOutsideScopes;

    /// <summary>The process's peak resident set at the end of the run.</summary>
    public long PeakRssBytes => Samples[^1].Sample.PeakRssBytes;

    /// <summary>A ceiling for peak memory: the weights' size plus 1.5 GB (taken as 1.5 GiB).</summary>
    public long CeilingBytes => WeightBytes + 1536L * 1024 * 1024;

    /// <summary>The per-sample table and the verdicts, for a person reading the console.</summary>
    public void Print(TextWriter writer)
    {
        writer.WriteLine($"{Workload}: {Count:N0} images in {Seconds:F0} s ({Count / Seconds:F1}/s), memory every {Every:N0}");
        writer.WriteLine($"{"done",8} {"RSS MiB",9} {"managed",9} {"native",9} {"tensors outside scopes",23}");
        foreach (var (done, s) in Samples)
            writer.WriteLine($"{done,8:N0} {MemorySample.MiB(s.RssBytes),9:F0} {MemorySample.MiB(s.ManagedBytes),9:F0} {MemorySample.MiB(s.NativeBytes),9:F0} {s.TensorsOutsideScopes - Samples[0].Sample.TensorsOutsideScopes,23:N0}");
        writer.WriteLine($"RSS growth after the first {Every:N0}: highest {RssGrowth:P1}, at the end {FinalRssGrowth:P1}; native growth {MemorySample.MiB(NativeGrowthBytes):F1} MiB; " +
            $"peak RSS {MemorySample.MiB(PeakRssBytes):F0} MiB against weights {MemorySample.MiB(WeightBytes):F0} MiB + 1.5 GB = {MemorySample.MiB(CeilingBytes):F0} MiB; " +
            $"tensors created outside dispose scopes: {TensorsOutsideScopes:N0}");
    }
}
