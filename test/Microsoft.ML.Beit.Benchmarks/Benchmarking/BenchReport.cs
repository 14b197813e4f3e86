using System.Runtime.InteropServices;
using System.Text.Json;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>The machine a run measured, for the first lines of a report and its JSON.</summary>
internal static class BenchMachine
{
    /// <summary>The CPU's model name (from /proc/cpuinfo on Linux), cores, LibTorch threads, OS.</summary>
    public static string Describe() =>
        $"{CpuModel()}, {Environment.ProcessorCount} logical cores, LibTorch threads {get_num_threads()}, {RuntimeInformation.OSDescription}";

    static string CpuModel()
    {
        try
        {
            string? line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name")) : null;
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    /// <summary>Writes a run's results as indented JSON: the machine, the GEMM rate, throughput rows, memory runs, peak RSS.</summary>
    public static void WriteJson(string path, double? gemm, IReadOnlyList<ThroughputRow> rows, IReadOnlyList<MemoryRun> memory)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var document = new
        {
            machine = Describe(),
            date = DateTime.UtcNow.ToString("u"),
            gemm_gflops = gemm,
            throughput = rows.Select(r => new
            {
                workload = r.Workload, size = r.Size, image_size = r.ImageSize, batch = r.Batch, dtype = r.Dtype,
                images_per_s = r.ImagesPerSecond, gflops = r.GflopsPerSecond, fraction_of_gemm = r.FractionOfGemm,
                peer_images_per_s = r.PeerImagesPerSecond, peer_gemm_gflops = r.PeerGemmGflops, peer_ratio = r.PeerRatio, note = r.Note,
            }),
            memory = memory.Select(m => new
            {
                workload = m.Workload, count = m.Count, every = m.Every, seconds = m.Seconds, weight_bytes = m.WeightBytes,
                rss_growth = m.RssGrowth, final_rss_growth = m.FinalRssGrowth, native_growth_bytes = m.NativeGrowthBytes, peak_rss_bytes = m.PeakRssBytes,
                ceiling_bytes = m.CeilingBytes, tensors_outside_scopes = m.TensorsOutsideScopes,
                samples = m.Samples.Select(s => new
                {
                    done = s.Done, rss_bytes = s.Sample.RssBytes, managed_bytes = s.Sample.ManagedBytes,
                    native_bytes = s.Sample.NativeBytes, tensors_outside_scopes = s.Sample.TensorsOutsideScopes,
                }),
            }),
            peak_rss_bytes = MemorySample.PeakRss(),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
    }
}
