using System.Text.RegularExpressions;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The committed notebooks (samples/notebooks): their saved outputs name no folder of the machine that ran them, and
/// they share one helper file. samples/notebooks/run-notebooks.sh --update writes them; it rewrites such paths and
/// refuses a notebook where one is left, with the patterns of samples/notebooks/machine-paths.txt used here.
/// </summary>
[TestClass]
public sealed class NotebookTests
{
    static string NotebookFolder => Path.Combine(CliReferenceTests.RepositoryRoot(), "samples", "notebooks");

    static IEnumerable<object[]> Notebooks() =>
        Directory.GetFiles(Path.Combine(CliReferenceTests.RepositoryRoot(), "samples", "notebooks"), "*.ipynb").Order().Select(f => new object[] { Path.GetFileName(f) });

    [TestMethod]
    [DynamicData(nameof(Notebooks))]
    public void SavedOutputsNameNoFolderOfTheMachine(string notebook)
    {
        var patterns = File.ReadAllLines(Path.Combine(NotebookFolder, "machine-paths.txt")).Where(l => l.Length > 0).Select(l => new Regex(l)).ToList();
        Assert.IsGreaterThanOrEqualTo(3, patterns.Count, "machine-paths.txt holds the patterns");
        // Pictures are inline base64, which may spell anything.
        string text = Regex.Replace(File.ReadAllText(Path.Combine(NotebookFolder, notebook)), "data:[^\"]*", "");
        var found = patterns.SelectMany(p => p.Matches(text)).Select(m => m.Value.Trim()).Distinct().ToList();
        Console.WriteLine($"{notebook}: {found.Count} machine paths{(found.Count > 0 ? ": " + string.Join(", ", found) : "")}");
        Assert.IsEmpty(found, $"{notebook} names folders of the machine that ran it: {string.Join(", ", found.Take(3))}. Refresh it with samples/notebooks/run-notebooks.sh --update, which rewrites them.");
    }

    [TestMethod]
    public void ThePatternsCatchTheMachinePathsTheKernelPrints()
    {
        var patterns = File.ReadAllLines(Path.Combine(NotebookFolder, "machine-paths.txt")).Where(l => l.Length > 0).Select(l => new Regex(l)).ToList();
        // Examples of what a kernel prints, built from the root so that this file itself names no machine's folder.
        const string Root = "/";
        string[] machine = [$"\"{Root}tmp/microsoft-ml-beit-natives/249b20/libLibTorchSharp.so", $"from {Root}home/ada/.nuget/packages/torchsharp",
            "`~/.nuget/packages/skiasharp`", $"({Root}usr/lib/x86_64-linux-gnu/libstdc++.so.6)", "\"C:\\\\Users\\\\ada\\\\.nuget\"",
            $" {Root}Users/ada/src/beit/artifacts", $"\"{Root}work/beit/samples\""];
        string[] portable = ["\"artifacts/packages\"", "<temp>/beit-notebooks/onnx/classifier.onnx", "<nuget-packages>/torchsharp/0.107.0", "libstdc++.so.6.0.30 lacks", "samples/data/fashion-mnist"];
        foreach (string text in machine) Assert.IsTrue(patterns.Any(p => p.IsMatch(text)), $"not caught: {text}");
        foreach (string text in portable) Assert.IsFalse(patterns.Any(p => p.IsMatch(text)), $"caught although portable: {text}");
    }

    [TestMethod]
    [DynamicData(nameof(Notebooks))]
    public void LoadsTheSharedHelpers(string notebook)
    {
        string text = File.ReadAllText(Path.Combine(NotebookFolder, notebook));
        StringAssert.Contains(text, "#load \\\"helpers.csx\\\"", $"{notebook} loads helpers.csx");
        Assert.DoesNotContain("byte[] Gunzip(", text, $"{notebook} defines the shared helpers again");
    }
}
