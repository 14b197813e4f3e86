using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Beit.Trainer;

/// <summary>
/// A flag's value the verb found wrong after parsing (it depends on another flag, or on a file): a usage error, exit code 2.
/// </summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// How every verb ends: exit code 0 on success, 2 for a usage error (a flag missing, unknown or with a bad value),
/// 1 for a failure while running. An error is one line on stderr that names the flag or file and the cause;
/// <c>--verbose</c> adds the stack trace of a failure.
/// </summary>
internal static partial class CommandRunner
{
    public const int Success = 0, Failure = 1, Usage = 2;

    /// <summary>The global flag that shows the stack trace of a failure.</summary>
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Show the stack trace when a command fails.",
        Recursive = true,
    };

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'\.", RegexOptions.Singleline)]
    private static partial Regex CannotParse();

    /// <summary>Parses <paramref name="args"/> and runs the verb; a parse error is reported here, on one line, with exit code 2.</summary>
    public static int Invoke(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        // Renamed flags keep their old spellings for a release: read them as the current names of the verb's flags.
        var current = Flags.WithCurrentNames(parse.CommandResult.Command, args);
        if (!current.SequenceEqual(args)) parse = root.Parse(current);
        if (parse.Action is ParseErrorAction)
        {
            var messages = parse.Errors.Select(e => Describe(e.Message)).Distinct().ToList();
            Console.Error.WriteLine($"error: {string.Join("; ", messages.Select(m => m.TrimEnd('.')))}. {SeeHelp(parse)}");
            return Usage;
        }
        // Ctrl+C in a training verb is handled by the verb (TrainingFlags): it stops between steps and saves the model.
        return parse.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>Runs a verb's work and turns an exception into one line on stderr and exit code 1 (2 when a flag's value is the cause).</summary>
    public static int Run(ParseResult parse, Action action)
    {
        try
        {
            action();
            return Success;
        }
        catch (Exception thrown) when (thrown is not OutOfMemoryException)
        {
            var e = Unwrap(thrown);
            if (e is UsageException)
            {
                Console.Error.WriteLine($"error: {e.Message} {SeeHelp(parse)}");
                return Usage;
            }
            // The library names an option it rejects; where the verb has a flag of that name, the flag's value is the cause.
            if (e is ArgumentOutOfRangeException { ParamName: { } name } range && FlagOf(parse, name) is { } flag)
            {
                Console.Error.WriteLine($"error: {FlagMessage(range, name, flag)} {SeeHelp(parse)}");
                return Usage;
            }
            // Errors users cause (bad paths, files, options) carry messages written for them; others name their type.
            bool expected = e is IOException or InvalidDataException or ArgumentException or InvalidOperationException
                or UnauthorizedAccessException or NotSupportedException or System.Text.Json.JsonException;
            string message = OneLine(e is ArgumentException { ParamName: { } parameter } ? WithoutParameter(e.Message, parameter) : e.Message);
            Console.Error.WriteLine(expected ? $"error: {message}" : $"error: {e.GetType().Name}: {message}");
            if (parse.GetValue(Verbose)) Console.Error.WriteLine(thrown);
            return Failure;
        }
    }

    // "See 'dotnet beit.dll featurize --help'." with the command the tool was started with.
    static string SeeHelp(ParseResult parse)
    {
        var words = new List<string>();
        for (var result = parse.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
            words.Insert(0, result.Command.Name);
        return $"See '{Invocation.Command([.. words, "--help"])}'.";
    }

    static string Describe(string message)
    {
        var match = CannotParse().Match(message);
        if (!match.Success) return OneLine(message);
        string kind = match.Groups["type"].Value switch
        {
            "System.Int32" or "System.Int64" or "System.Nullable`1[System.Int32]" => "a whole number",
            "System.Double" or "System.Single" or "System.Nullable`1[System.Double]" => "a number",
            "System.Boolean" or "System.Nullable`1[System.Boolean]" => "true or false",
            var type => type,
        };
        return $"{match.Groups["option"].Value} '{match.Groups["value"].Value}' is not {kind}.";
    }

    static string? FlagOf(ParseResult parse, string optionName)
    {
        string flag = "--" + Flags.Kebab(optionName);
        for (var command = parse.CommandResult; command is not null; command = command.Parent as System.CommandLine.Parsing.CommandResult)
            if (command.Command.Options.Any(o => o.Name == flag)) return flag;
        return null;
    }

    // "DropPath must be in [0, 1). (Parameter 'DropPath') Actual value was 1.5." -> "--drop-path must be in [0, 1), not 1.5."
    static string FlagMessage(ArgumentOutOfRangeException e, string name, string flag)
    {
        string first = WithoutParameter(e.Message.Split('\n')[0].Trim(), name).TrimEnd('.');
        string text = Regex.Replace(first, $@"\b{Regex.Escape(name)}\b", flag);
        if (!text.Contains(flag, StringComparison.Ordinal)) text = $"{flag}: {text}";
        return e.ActualValue is null || text.Contains($"{e.ActualValue}", StringComparison.Ordinal) ? text + "." : $"{text}, not {e.ActualValue}.";
    }

    static string WithoutParameter(string message, string parameter) => message.Replace($" (Parameter '{parameter}')", "");

    /// <summary>A message of several lines (a list of keys, say) as one line.</summary>
    static string OneLine(string message)
    {
        var parts = new List<string>();
        foreach (string line in message.Split('\n'))
        {
            string text = line.Trim();
            if (text.Length == 0) continue;
            // An indented line is an item of the list the line before opened.
            bool item = line.StartsWith("  ", StringComparison.Ordinal) || line.StartsWith('\t');
            if (parts.Count > 0 && !parts[^1].EndsWith(':') && !parts[^1].EndsWith('.')) parts[^1] += item ? "," : ";";
            parts.Add(text);
        }
        return string.Join(' ', parts);
    }

    static Exception Unwrap(Exception e)
    {
        while (e is TargetInvocationException or AggregateException { InnerExceptions.Count: 1 } && e.InnerException is { } inner) e = inner;
        return e;
    }
}
