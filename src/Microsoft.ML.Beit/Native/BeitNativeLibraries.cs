using System.Runtime.InteropServices;
using Microsoft.ML.Beit.Native;

namespace Microsoft.ML.Beit;

/// <summary>
/// Makes TorchSharp's native library loadable in processes that have no build step of their own: Polyglot
/// notebooks, <c>dotnet-repl</c>, F# scripts.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> asks for <c>GLIBCXX_3.4.32</c> (GCC 13's libstdc++), which
/// Debian 12, Ubuntu 22.04 and RHEL 9 lack, so the loader refuses it and TorchSharp reports that the
/// <c>libtorch-cpu-linux-x64</c> reference is missing. Projects get a patched copy in their build output from
/// the package's build step (<c>LibStdCxxCompat.targets</c>); a notebook has no build output, and a project that
/// references the library's source has no such step, so the library calls <see cref="PrepareTorchSharp"/> itself as
/// it loads, before any of its code uses TorchSharp (call it yourself only to read its outcome, to pick the cache
/// folder, or before your own code uses TorchSharp ahead of this library). It writes a copy of the library
/// whose requirement of that version is marked weak (the one symbol bound to it is used by no relocation) to a
/// cache folder, loads LibTorch from the <c>libtorch-cpu-linux-x64</c> package and then the copy, so that
/// TorchSharp's own load finds it by name. The NuGet package cache is read, never written. Where the
/// process's libstdc++ has the version, or on Windows and macOS, it does nothing.
/// </remarks>
public static class BeitNativeLibraries
{
    /// <summary>The libstdc++ symbol version TorchSharp's native library asks for.</summary>
    public const string LibStdCxxVersion = "GLIBCXX_3.4.32";

    const string TorchSharpLibrary = "libLibTorchSharp.so";
    static readonly object Gate = new();
    static string? _outcome;

    /// <summary>
    /// Prepares TorchSharp's native library for this process (see the remarks of <see cref="BeitNativeLibraries"/>).
    /// Call it before anything touches TorchSharp; calling it again returns the first outcome.
    /// </summary>
    /// <param name="cacheDirectory">Where the patched copy goes. Default: <c>microsoft-ml-beit-natives</c> under the
    /// temporary folder.</param>
    /// <returns>One line saying what was done, for the notebook's output.</returns>
    /// <exception cref="InvalidOperationException">TorchSharp's native library or LibTorch (the
    /// <c>libtorch-cpu-linux-x64</c> package) could not be found; the message names the folders searched.</exception>
    public static string PrepareTorchSharp(string? cacheDirectory = null)
    {
        lock (Gate)
            return _outcome ??= Prepare(cacheDirectory);
    }

    /// <summary>
    /// <see cref="PrepareTorchSharp"/> as this assembly loads: a process that cannot be prepared (no LibTorch package, as
    /// in an application that scores with ONNX Runtime only) goes on, and TorchSharp reports the problem where it is used;
    /// a later call of <see cref="PrepareTorchSharp"/> tries again and says why it fails.
    /// </summary>
    internal static void TryPrepareTorchSharp()
    {
        try
        {
            PrepareTorchSharp();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Nothing is cached on failure, so the explicit call reports it.
        }
    }

    static string Prepare(string? cacheDirectory)
    {
        if (!OperatingSystem.IsLinux()) return "Not Linux: TorchSharp loads as shipped.";
        string? libStdCxx = LoadedLibStdCxx();
        if (libStdCxx is not null && ElfVersionNeeds.Defines(libStdCxx, LibStdCxxVersion))
            return $"{libStdCxx} provides {LibStdCxxVersion}: TorchSharp loads as shipped.";

        string torchSharpDirectory = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location) ?? AppContext.BaseDirectory;
        string rid = "linux-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        // An application's output (where the build step already patched the copy), then TorchSharp's package.
        var searched = new List<string> { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native"), torchSharpDirectory,
            Path.GetFullPath(Path.Combine(torchSharpDirectory, "..", "..", "runtimes", rid, "native")) };
        searched.AddRange(NativeSearchDirectories());

        string? shipped = searched.Select(d => Path.Combine(d, TorchSharpLibrary)).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                $"{TorchSharpLibrary} was not found in {string.Join(", ", searched)}. Reference the TorchSharp package.");

        byte[] image = File.ReadAllBytes(shipped);
        if (ElfVersionNeeds.MarkWeak(image, LibStdCxxVersion) != ElfVersionNeeds.Outcome.MarkedWeak)
            return $"{shipped} needs no patch: TorchSharp loads as it is.";

        // Packages restored under ~/.nuget/packages/<id>/<version>/lib/<tfm>/: LibTorch is a sibling package.
        string packages = Path.GetFullPath(Path.Combine(torchSharpDirectory, "..", "..", "..", ".."));
        var libTorchCandidates = new List<string> { Path.GetDirectoryName(shipped)! };
        libTorchCandidates.AddRange(NativeSearchDirectories());
        string cpuPackage = Path.Combine(packages, $"libtorch-cpu-{rid}");
        if (Directory.Exists(cpuPackage))
            libTorchCandidates.AddRange(Directory.GetDirectories(cpuPackage).OrderByDescending(v => v, StringComparer.Ordinal)
                .Select(v => Path.Combine(v, "runtimes", rid, "native")));
        string libTorch = libTorchCandidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch.so")))
            ?? throw new InvalidOperationException(
                $"LibTorch (libtorch.so) was not found in {string.Join(", ", libTorchCandidates.Distinct())}. " +
                $"Reference the native package, e.g. in a notebook: #r \"nuget: libtorch-cpu-{rid}, 2.10.0\".");

        string folder = cacheDirectory ?? Path.Combine(Path.GetTempPath(), "microsoft-ml-beit-natives");
        var info = new FileInfo(shipped);
        string copy = Path.Combine(folder, $"{info.Length:x}-{info.LastWriteTimeUtc.Ticks:x}", TorchSharpLibrary);
        if (!File.Exists(copy))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            string temporary = $"{copy}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temporary, image);
            try { File.Move(temporary, copy); }
            catch (IOException) when (File.Exists(copy)) { File.Delete(temporary); }   // another process wrote it first
        }

        // libtorch.so brings libtorch_cpu.so and libc10.so through its $ORIGIN run path; the copy's needs then bind
        // to them by soname, and TorchSharp's load of "LibTorchSharp" finds the copy by its soname.
        NativeLibrary.Load(Path.Combine(libTorch, "libtorch.so"));
        NativeLibrary.Load(copy);
        return $"{libStdCxx ?? "libstdc++"} lacks {LibStdCxxVersion}: loaded LibTorch from {libTorch} and a copy of {shipped} " +
            $"with that requirement marked weak ({copy}).";
    }

    static string? LoadedLibStdCxx()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && line.Contains("libstdc++.so", StringComparison.Ordinal)) return line[slash..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        string[] usual = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6"];
        return usual.FirstOrDefault(File.Exists);
    }

    static IEnumerable<string> NativeSearchDirectories() =>
        (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
}
