using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>One reading of the process's memory: resident set, its peak so far, the managed heap, and live tensors.</summary>
/// <param name="RssBytes">Resident set size now (VmRSS on Linux).</param>
/// <param name="PeakRssBytes">The highest resident set size of the process so far (VmHWM on Linux).</param>
/// <param name="ManagedBytes">Memory the .NET GC had committed at its most recent collection (0 before the first); the rest of the
/// resident set is native (LibTorch, SkiaSharp, code).</param>
/// <param name="TensorsOutsideScopes">Tensors created on this thread outside any dispose scope since the process started:
/// those are freed only by the finalizer, so a count that grows with the work is a leak of native memory until a GC happens.</param>
internal sealed record MemorySample(long RssBytes, long PeakRssBytes, long ManagedBytes, long TensorsOutsideScopes)
{
    /// <summary>The resident set minus what the GC has committed: LibTorch's and the other native libraries' memory, plus code.</summary>
    public long NativeBytes => RssBytes - ManagedBytes;

    /// <summary>Reads the process's memory now. Does not collect garbage: a leak the finalizer would hide must show.</summary>
    public static MemorySample Now()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new MemorySample(process.WorkingSet64, process.PeakWorkingSet64, GC.GetGCMemoryInfo().TotalCommittedBytes,
            TorchSharp.DisposeScopeManager.Statistics.TensorStatistics.CreatedOutsideScopeCount);
    }

    /// <summary>The process's peak resident set so far.</summary>
    public static long PeakRss()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }

    /// <summary>Bytes as MiB, for tables.</summary>
    public static double MiB(long bytes) => bytes / (1024.0 * 1024.0);
}
