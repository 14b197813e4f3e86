using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// docs/cli.md is the tool's own <c>--help</c> output, verb by verb, under a hand-written introduction. This test runs
/// every verb's help and fails when the page differs. With BEIT_UPDATE_CLI_DOCS=1 it rewrites the page instead
/// (<c>bash eng/update-cli-docs.sh</c>), keeping the introduction above the marker line.
/// </summary>
[TestClass]
public sealed partial class CliReferenceTests
{
    /// <summary>The line that ends the hand-written part of docs/cli.md; everything below it is generated.</summary>
    internal const string Marker = "<!-- Everything below is generated from `beit --help` by `bash eng/update-cli-docs.sh`: do not edit it by hand. -->";

    [TestMethod]
    public void CliReferenceIsTheToolsHelp()
    {
        string path = Path.Combine(RepositoryRoot(), "docs", "cli.md");
        string current = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : "";
        int marker = current.IndexOf(Marker, StringComparison.Ordinal);
        string introduction = marker >= 0 ? current[..(marker + Marker.Length)] : "# The `beit` command-line tool\n\n" + Marker;
        string expected = introduction + "\n\n" + Generate();

        if (Environment.GetEnvironmentVariable("BEIT_UPDATE_CLI_DOCS") == "1")
        {
            File.WriteAllText(path, expected);
            Console.WriteLine($"wrote {path} ({expected.Split('\n').Length} lines)");
            return;
        }
        Assert.IsGreaterThanOrEqualTo(0, marker, $"{path} lacks the marker line that ends its hand-written part: {Marker}");
        if (expected == current) return;
        string[] want = expected.Split('\n'), have = current.Split('\n');
        int line = 0;
        while (line < want.Length && line < have.Length && want[line] == have[line]) line++;
        Assert.Fail($"docs/cli.md differs from the tool's --help at line {line + 1}:\n" +
            $"  page: {(line < have.Length ? have[line] : "(end of file)")}\n" +
            $"  help: {(line < want.Length ? want[line] : "(end of output)")}\n" +
            "Refresh it with: bash eng/update-cli-docs.sh");
    }

    /// <summary>The help of the root command and of every verb, each followed by its sub-verbs, in the order the tool lists them.</summary>
    static string Generate()
    {
        var page = new StringBuilder();
        void Add(string[] verb)
        {
            var (code, output, error) = BeitToolTests.Beit([.. verb, "--help"]);
            Assert.AreEqual(0, code, $"beit {string.Join(' ', verb)} --help: {error}");
            string help = output.ReplaceLineEndings("\n").TrimEnd();
            page.Append($"## {string.Join(' ', ["beit", .. verb])}\n\n```text\n{help}\n```\n\n");
            foreach (string sub in Subcommands(help).ToList()) Add([.. verb, sub]);
        }
        Add([]);
        return page.ToString().TrimEnd() + "\n";
    }

    /// <summary>The names listed under "Commands:" in a help text.</summary>
    static IEnumerable<string> Subcommands(string help)
    {
        int start = help.IndexOf("\nCommands:\n", StringComparison.Ordinal);
        if (start < 0) yield break;
        foreach (string line in help[(start + "\nCommands:\n".Length)..].Split('\n'))
        {
            if (line.Trim().Length == 0) yield break;
            var name = CommandName().Match(line);
            if (name.Success) yield return name.Groups[1].Value;
        }
    }

    [GeneratedRegex(@"^  ([a-z][a-z0-9-]*)")]
    private static partial Regex CommandName();

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Beit.ML.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Cannot find the repository root (Beit.ML.sln) above the test assembly.");
    }
}
