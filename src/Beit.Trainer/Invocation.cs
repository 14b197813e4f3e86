using System.CommandLine;
using System.Text.RegularExpressions;

namespace Beit.Trainer;

/// <summary>
/// The command the user started the tool with, for messages that suggest a command: <c>beit</c> for the installed tool,
/// <c>dotnet beit.dll</c> (with the assembly's path as it can be typed from here) when the .NET host ran the assembly,
/// the executable's path when it is not on PATH.
/// </summary>
internal static partial class Invocation
{
    // The package folder a local tool runs from: .../beit.trainer/<version>/tools/...
    [GeneratedRegex(@"[/\\]beit\.trainer[/\\][^/\\]+[/\\]tools[/\\]", RegexOptions.IgnoreCase)]
    private static partial Regex LocalTool();

    /// <summary>The command, followed by the verb's words when given: <c>dotnet beit.dll finetune</c>.</summary>
    public static string Command(params string[] verb) => string.Join(' ', [Name, .. verb]);

    /// <summary>How the tool was started.</summary>
    public static string Name { get; } = Describe(Environment.ProcessPath, RootCommand.ExecutablePath, Environment.CurrentDirectory,
        Environment.GetEnvironmentVariable("PATH"));

    static string Describe(string? process, string entry, string current, string? path)
    {
        if (process is not null && Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            // A local tool (dotnet tool run beit) runs the assembly from the package folder; `dotnet beit` starts it again.
            if (LocalTool().IsMatch(entry)) return "dotnet " + RootCommand.ExecutableName;
            return "dotnet " + Typed(entry, current, executable: false);
        }
        string executable = process ?? entry;
        return OnPath(executable, path) ? Path.GetFileNameWithoutExtension(executable) : Typed(executable, current, executable: true);
    }

    // A path as it can be typed here: relative below the current folder, else absolute; quoted when it holds a space.
    static string Typed(string file, string current, bool executable)
    {
        string full = Path.GetFullPath(file), relative = Path.GetRelativePath(current, full);
        string typed = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full
            : executable && !relative.Contains(Path.DirectorySeparatorChar) ? "." + Path.DirectorySeparatorChar + relative : relative;
        return typed.Contains(' ') ? $"\"{typed}\"" : typed;
    }

    static bool OnPath(string executable, string? path)
    {
        string name = Path.GetFileName(executable), full = Path.GetFullPath(executable);
        foreach (string folder in (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
                return string.Equals(Path.GetFullPath(candidate), full, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
        }
        return false;
    }
}
