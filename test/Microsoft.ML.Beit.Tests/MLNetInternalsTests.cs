namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The library compiles against copies of ML.NET whose internals are public (eng/MLNetInternals.targets); only
/// src/Microsoft.ML.Beit/MLNetInternals.cs may use them. Building with <c>-p:BeitNoPublicize=true</c> shows every use
/// (the only errors must be in that file); this test catches the usual ones without a second build.
/// </summary>
[TestClass]
public sealed class MLNetInternalsTests
{
    static readonly string[] InternalNames =
    [
        "ModelLoadContext", "VersionInfo", "LoadableClass", "SignatureLoadModel", "CatalogUtils", "AnnotationUtils", "TryFindColumn",
        "GetTypeString", "ITransformerChainAccessor", "CheckAtModel", "SaveBinaryStream", "TryLoadBinaryStream", "AddSlotNames", "AddKeyValues",
        "new SchemaShape.Column(", "MessageSensitivity", "IHostEnvironmentInternal",
    ];

    [TestMethod]
    public void OnlyTheAdapterNamesMLNetInternals()
    {
        string library = Path.Combine(Path.GetDirectoryName(FashionMnist.Directory)!, "..", "..", "src", "Microsoft.ML.Beit");
        var files = Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && Path.GetFileName(f) != "MLNetInternals.cs")
            .ToList();
        Assert.IsGreaterThan(50, files.Count, library);
        var uses = files.SelectMany(f => File.ReadLines(f).Select((line, i) => (File: f, Line: i + 1, Text: line)))
            .Where(l => !l.Text.TrimStart().StartsWith("//", StringComparison.Ordinal) && InternalNames.Any(n => l.Text.Contains(n, StringComparison.Ordinal)))
            .Select(l => $"{Path.GetRelativePath(library, l.File)}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Console.WriteLine($"{files.Count} files read; {uses.Count} uses of ML.NET internals outside MLNetInternals.cs");
        Assert.IsEmpty(uses, string.Join("\n", uses));
    }
}
