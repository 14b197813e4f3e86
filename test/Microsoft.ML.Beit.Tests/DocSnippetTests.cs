using System.Text.RegularExpressions;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Every C# snippet of README.md, PACKAGE.md and docs/*.md is compiled: it must appear, paragraph by paragraph, in
/// DocSnippets.cs, which the test project builds. The snippet's <c>using</c> directives must be among that file's.
/// </summary>
[TestClass]
public sealed partial class DocSnippetTests
{
    [TestMethod]
    public void EverySnippetInTheDocsIsInTheCompiledSnippetFile()
    {
        string root = CliReferenceTests.RepositoryRoot();
        string[] compiled = File.ReadAllLines(Path.Combine(root, "test", "Microsoft.ML.Beit.Tests", "DocSnippets.cs")).Select(l => l.Trim()).ToArray();
        var pages = new[] { "README.md", "PACKAGE.md" }.Select(p => Path.Combine(root, p))
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md")).ToList();
        int snippets = 0;
        var missing = new List<string>();
        foreach (string page in pages)
            foreach (Match block in CSharpBlock().Matches(File.ReadAllText(page).ReplaceLineEndings("\n")))
            {
                snippets++;
                string[] lines = block.Groups[1].Value.Split('\n').Select(l => l.Trim()).ToArray();
                foreach (string directive in lines.Where(l => UsingDirective().IsMatch(l)))
                    if (!compiled.Contains(directive)) missing.Add($"{Path.GetFileName(page)}: {directive} (not among DocSnippets.cs's usings)");
                foreach (var paragraph in Paragraphs(lines.Where(l => !UsingDirective().IsMatch(l))))
                    if (!ContainsRun(compiled, paragraph)) missing.Add($"{Path.GetFileName(page)}: the paragraph starting \"{paragraph[0]}\"");
            }
        Console.WriteLine($"{snippets} C# snippets in {pages.Count} pages checked against DocSnippets.cs");
        Assert.IsGreaterThan(10, snippets, "the pages should hold the snippets this test was written for");
        Assert.IsEmpty(missing, "snippets in the docs that DocSnippets.cs does not compile (copy them there verbatim):\n" + string.Join("\n", missing));
    }

    static IEnumerable<string[]> Paragraphs(IEnumerable<string> lines)
    {
        var current = new List<string>();
        foreach (string line in lines.Append(""))
            if (line.Length > 0) current.Add(line);
            else if (current.Count > 0) { yield return current.ToArray(); current.Clear(); }
    }

    static bool ContainsRun(string[] haystack, string[] run)
    {
        for (int start = 0; start + run.Length <= haystack.Length; start++)
            if (haystack.AsSpan(start, run.Length).SequenceEqual(run)) return true;
        return false;
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^using [A-Za-z][A-Za-z0-9.]*;$")]
    private static partial Regex UsingDirective();
}
