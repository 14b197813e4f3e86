using System.Diagnostics;
using System.Text.Json;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>What the PyTorch eager peer (../shared/bench) measured for one size, batch and mode.</summary>
/// <param name="ImagesPerSecond">Batch size over the median iteration time.</param>
/// <param name="GemmGflops">The peer process's own 2048^3 float32 matmul rate.</param>
/// <param name="Torch">The PyTorch version the peer ran with.</param>
internal sealed record PeerResult(double ImagesPerSecond, double GemmGflops, string Torch);

/// <summary>
/// Runs ../shared/bench/run_peer.sh (a plain PyTorch eager BEiT, installed through apt on first use) for the same size,
/// batch and mode as our own measurement, in the same benchmark run, so the ratio compares like with like on this machine
/// at this moment. The peer knows only the base and large sizes at 224x224.
/// </summary>
internal static class PytorchPeer
{
    /// <summary>The peer's run_peer.sh beside the repository (or where BEIT_PEER_DIR points), or null when absent.</summary>
    public static string? Script { get; } = Locate();

    static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("BEIT_PEER_DIR") is { Length: > 0 } configured)
            return File.Exists(Path.Combine(configured, "run_peer.sh")) ? Path.GetFullPath(Path.Combine(configured, "run_peer.sh")) : null;
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "Beit.ML.sln"))) continue;
                string candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "bench", "run_peer.sh"));
                if (File.Exists(candidate)) return candidate;
                break;
            }
        return null;
    }

    /// <summary>Whether the peer can run this workload: it is present and knows the size (base or large, 224x224).</summary>
    public static bool Supports(string size, int imageSize) => Script is not null && imageSize == 224 && size is "base" or "large";

    /// <summary>Runs the peer and parses its JSON line. Throws with the peer's stderr when it fails.</summary>
    public static PeerResult Run(string size, int batch, bool training, int threads, int repeat)
    {
        if (Script is null) throw new InvalidOperationException("../shared/bench/run_peer.sh is not beside this repository (or set BEIT_PEER_DIR).");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { Script, "--size", size, "--batch", $"{batch}", "--threads", $"{threads}",
                     "--repeat", $"{repeat}", "--warmup", "1", "--mode", training ? "train" : "forward" })
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Script}.");
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"The PyTorch peer failed (exit code {process.ExitCode}): {error.Result.Trim()}");
        string line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last(l => l.StartsWith('{'));
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        return new PeerResult(root.GetProperty("images_per_s").GetDouble(), root.GetProperty("gemm_gflops").GetDouble(),
            root.TryGetProperty("torch", out var torch) ? torch.ToString() : "?");
    }
}
