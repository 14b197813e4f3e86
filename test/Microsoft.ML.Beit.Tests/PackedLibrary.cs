namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The library packed once per test run (as the tests were built, without building again) and an offline restore from it,
/// for the tests that build an application from the package outside the repository. The pack is deleted as the run ends.
/// </summary>
internal static class PackedLibrary
{
    static readonly Lazy<string> Folder = new(Pack);

    /// <summary>The folder holding the packed Microsoft.ML.Beit nupkg.</summary>
    public static string Packages => Path.Combine(Folder.Value, "packages");

    /// <summary>The version the library packs as.</summary>
    public static string Version
    {
        get
        {
            string package = Path.GetFileName(Directory.GetFiles(Packages, "Microsoft.ML.Beit.*.nupkg").Single());
            return package["Microsoft.ML.Beit.".Length..^".nupkg".Length];
        }
    }

    /// <summary>The packed nupkg.</summary>
    public static string Nupkg => Directory.GetFiles(Packages, "Microsoft.ML.Beit.*.nupkg").Single();

    /// <summary>
    /// Restore properties for an offline restore into <paramref name="restoredInto"/>: the sources are the packed library and the
    /// machine's NuGet cache as a folder feed, without any Microsoft.ML.Beit it holds (an older pack of the same version would
    /// hide this one).
    /// </summary>
    public static string[] OfflineRestore(string restoredInto) =>
    [
        $"-p:RestoreSources={Packages}%3B{OtherPackages.Value}", $"-p:RestoreFallbackFolders={OtherPackages.Value}",
        $"-p:RestorePackagesPath={restoredInto}",
    ];

    static readonly Lazy<string> OtherPackages = new(() =>
    {
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string others = Path.Combine(Folder.Value, "cache-without-beit");
        Directory.CreateDirectory(others);
        foreach (var id in Directory.GetDirectories(cache).Where(d => !Path.GetFileName(d).Equals("microsoft.ml.beit", StringComparison.OrdinalIgnoreCase)))
            Directory.CreateSymbolicLink(Path.Combine(others, Path.GetFileName(id)), id);
        return others;
    });

    static string Pack()
    {
        string folder = TinyModels.TempDirectory();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(folder, recursive: true); }
            catch (IOException) { }
        };
        string root = CliReferenceTests.RepositoryRoot();
        // No build servers: they would outlive the test holding its output pipes.
        var (code, output, error) = Processes.Run("dotnet",
            ["pack", Path.Combine(root, "src", "Microsoft.ML.Beit", "Microsoft.ML.Beit.csproj"), "-c", Configuration, "--no-build",
             "-o", Path.Combine(folder, "packages"), "-v", "q", "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false"],
            TimeSpan.FromMinutes(5));
        Assert.AreEqual(0, code, output + error);
        return folder;
    }

    /// <summary>The configuration these tests (and so the library) were built in.</summary>
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif
}
