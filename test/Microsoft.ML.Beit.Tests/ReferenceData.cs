using Microsoft.ML.Beit.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Finds ../shared/reference (outputs of the original BEiT implementation) beside the repository, or
/// where BEIT_REFERENCE_DIR points; tests that need it are inconclusive when it is absent.
/// </summary>
internal static class ReferenceData
{
    public static string? Directory { get; } = Locate();

    static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("BEIT_REFERENCE_DIR") is { Length: > 0 } configured)
            return System.IO.Directory.Exists(configured) ? configured : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Beit.ML.sln"))) continue;
            string candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "reference"));
            return System.IO.Directory.Exists(candidate) ? candidate : null;
        }
        return null;
    }

    /// <summary>The folder of one reference case, or Inconclusive when the reference data is absent.</summary>
    public static string Case(string name)
    {
        if (Directory is null)
            Assert.Inconclusive("../shared/reference is not beside this repository (set BEIT_REFERENCE_DIR to point at it); reference parity not checked.");
        return Path.Combine(Directory!, name);
    }

    /// <summary>Largest absolute difference between two tensors of the same shape.</summary>
    public static double MaxAbsDiff(Tensor actual, Tensor expected)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"shape [{string.Join(",", actual.shape)}] vs expected [{string.Join(",", expected.shape)}]");
        using var diff = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max();
        return diff.item<double>();
    }

    /// <summary>Reads a case's expected.safetensors.</summary>
    public static Dictionary<string, Tensor> Expected(string caseName) =>
        SafetensorsFile.Read(Path.Combine(Case(caseName), "expected.safetensors"));
}
