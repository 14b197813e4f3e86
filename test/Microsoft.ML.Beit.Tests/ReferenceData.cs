using Microsoft.ML.Beit.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Finds ../shared/reference (outputs of the original BEiT implementation) beside the repository, or
/// where BEIT_REFERENCE_DIR points; tests that need it are inconclusive when it is absent, and fail when
/// BEIT_REFERENCE_DIR names a folder that does not exist (a configured location that is wrong is an error, not a skip).
/// </summary>
internal static class ReferenceData
{
    public const string Variable = "BEIT_REFERENCE_DIR";

    /// <summary>The reference folder, or null when there is none and none was configured.</summary>
    public static string? Directory => Locate(Environment.GetEnvironmentVariable(Variable)).Folder;

    /// <summary>Where the reference data is: the folder, or why it is missing and whether that is an error.</summary>
    internal static (string? Folder, string? Missing, bool Configured) Locate(string? configured)
    {
        if (configured is { Length: > 0 })
            return System.IO.Directory.Exists(configured)
                ? (configured, null, true)
                : (null, $"{Variable} is set to '{configured}', which is not a folder; point it at the reference data (../shared/reference) or unset it.", true);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Beit.ML.sln"))) continue;
            string candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "reference"));
            return System.IO.Directory.Exists(candidate)
                ? (candidate, null, false)
                : (null, $"../shared/reference is not beside this repository (set {Variable} to point at it); reference parity not checked.", false);
        }
        return (null, $"the repository root (Beit.ML.sln) is not above the test assembly and {Variable} is not set; reference parity not checked.", false);
    }

    /// <summary>The folder of one reference case: Inconclusive when the reference data is absent, a failure when it is configured but missing.</summary>
    public static string Case(string name) => Case(name, Environment.GetEnvironmentVariable(Variable));

    internal static string Case(string name, string? configured)
    {
        var (folder, missing, isConfigured) = Locate(configured);
        if (folder is null)
        {
            if (isConfigured) Assert.Fail(missing);
            Assert.Inconclusive(missing);
        }
        string path = Path.Combine(folder, name);
        if (!System.IO.Directory.Exists(path)) Assert.Fail($"The reference data at {folder} has no case '{name}'.");
        return path;
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
