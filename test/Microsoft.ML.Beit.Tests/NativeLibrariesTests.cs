using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Native;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The notebook path to TorchSharp's native library: the weak-version edit on the real libLibTorchSharp.so, and
/// PrepareTorchSharp in a process (this one) whose library the build already prepared.
/// </summary>
[TestClass]
public sealed class NativeLibrariesTests
{
    [TestMethod]
    public void TheGlibcxxRequirementOfTorchSharpsLibraryIsMarkedWeakOnce()
    {
        string library = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(library)) Assert.Inconclusive($"{library} is not in the test output (not Linux x64?).");
        byte[] image = File.ReadAllBytes(library);
        var first = ElfVersionNeeds.MarkWeak(image, BeitNativeLibraries.LibStdCxxVersion);
        Console.WriteLine($"first edit: {first}");
        // The build marked the output's copy where the system lacks the version; else it is the package's original.
        Assert.IsTrue(first is ElfVersionNeeds.Outcome.MarkedWeak or ElfVersionNeeds.Outcome.AlreadyWeak);
        Assert.AreEqual(ElfVersionNeeds.Outcome.AlreadyWeak, ElfVersionNeeds.MarkWeak(image, BeitNativeLibraries.LibStdCxxVersion));
        Assert.AreEqual(ElfVersionNeeds.Outcome.NotRequired, ElfVersionNeeds.MarkWeak(image, "GLIBCXX_99.0"));
    }

    [TestMethod]
    public void AFileThatIsNotElfIsRefused()
    {
        Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionNeeds.MarkWeak(new byte[128], BeitNativeLibraries.LibStdCxxVersion));
    }

    [TestMethod]
    public void PrepareTorchSharpLeavesALoadableLibraryAloneAndTorchSharpWorks()
    {
        string outcome = BeitNativeLibraries.PrepareTorchSharp(TinyModels.TempDirectory());
        Console.WriteLine(outcome);
        Assert.IsTrue(outcome.Contains("loads as", StringComparison.Ordinal), outcome);
        using var sum = TorchSharp.torch.ones(3).sum();
        Assert.AreEqual(3f, sum.item<float>());
    }

    [TestMethod]
    public void LibTorchsOpenMpThreadsWaitPassivelyUnlessTheProcessChoseOtherwise()
    {
        // Loading the library set the C environment that LibTorch's OpenMP reads; a setting of the process's own wins.
        _ = BeitConfig.Tiny;
        string? own = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.Variable);
        string? expected = own ?? (Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is null ? "PASSIVE" : null);
        Assert.AreEqual(expected, OpenMpWaitPolicy.NativeValue(OpenMpWaitPolicy.Variable));
    }
}
