using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;

namespace Beit.Trainer;

/// <summary>
/// The tool's conventions for flags: names are the library's option names in kebab case; a choice is checked while the
/// command line is parsed and its error lists the values allowed; a renamed flag keeps its old spelling as a hidden alias
/// for one release.
/// </summary>
internal static partial class Flags
{
    // Old spellings per option: they are read as the current name, and help shows only that.
    static readonly Dictionary<Option, string[]> Former = [];

    [GeneratedRegex("(?<=[a-z0-9])([A-Z])")]
    private static partial Regex WordStart();

    [GeneratedRegex(@"^cuda(:\d+)?$")]
    private static partial Regex CudaDevice();

    /// <summary>A PascalCase name in kebab case: <c>ClsAttention</c> becomes <c>cls-attention</c>.</summary>
    public static string Kebab(string name) => WordStart().Replace(name, "-$1").ToLowerInvariant();

    /// <summary>The value names of <typeparamref name="T"/> in kebab case, in declaration order.</summary>
    public static string[] Names<T>() where T : struct, Enum => Enum.GetValues<T>().Select(v => Kebab(v.ToString())).ToArray();

    /// <summary>A device flag: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>, checked while parsing (whether the GPU is there is checked when it is used).</summary>
    public static Option<string> Device(this Option<string> option)
    {
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                string value = token.Value.Trim().ToLowerInvariant();
                if (value is not ("auto" or "cpu") && !CudaDevice().IsMatch(value))
                    result.AddError($"{option.Name} '{token.Value}' is not a device: use one of {BeitDevice.Choices}.");
            }
        });
        return option;
    }

    /// <summary>A preset flag: one of <see cref="BeitConfig.PresetNames"/>, checked while parsing.</summary>
    public static Option<T> Preset<T>(this Option<T> option)
    {
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
                if (!BeitConfig.PresetNames.Contains(token.Value, StringComparer.OrdinalIgnoreCase))
                    result.AddError(NotOneOf(option.Name, token.Value, BeitConfig.PresetNames));
        });
        return option;
    }

    /// <summary>A whole-number flag that must be at least <paramref name="minimum"/>, checked while parsing.</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, int minimum) =>
        option.Check(value => value is int n && n < minimum ? $"{option.Name} must be at least {minimum}, not {n}." : null);

    /// <summary>
    /// Checks the flag's value while parsing: <paramref name="rule"/> returns the error, or null when the value is fine.
    /// A value that is not even of the flag's type is left to the parser's own error.
    /// </summary>
    public static Option<T> Check<T>(this Option<T> option, Func<T, string?> rule)
    {
        option.Validators.Add(result =>
        {
            if (result.Implicit) return;
            T value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return;
            }
            if (rule(value) is { } error) result.AddError(error);
        });
        return option;
    }

    /// <summary>
    /// Old spellings of <paramref name="option"/>, kept for one release: the command line is read with them replaced by the
    /// current name (<see cref="WithCurrentNames"/>), so they parse as the flag does but are not part of help.
    /// </summary>
    public static Option<T> Formerly<T>(this Option<T> option, params string[] oldNames)
    {
        Former[option] = [.. Former.GetValueOrDefault(option, []), .. oldNames];
        return option;
    }

    /// <summary>
    /// <paramref name="args"/> with the old spellings of <paramref name="command"/>'s flags replaced by their current names
    /// (<c>--lr 0.1</c> and <c>--lr=0.1</c> become <c>--learning-rate</c>); what follows <c>--</c> is left as it is.
    /// </summary>
    public static string[] WithCurrentNames(Command command, string[] args)
    {
        var renames = command.Options.Where(Former.ContainsKey).SelectMany(o => Former[o].Select(old => (Old: old, New: o.Name))).ToList();
        var result = (string[])args.Clone();
        for (int i = 0; i < result.Length && renames.Count > 0 && result[i] != "--"; i++)
            foreach (var (old, current) in renames)
                if (result[i] == old || result[i].StartsWith(old + "=", StringComparison.Ordinal) || result[i].StartsWith(old + ":", StringComparison.Ordinal))
                {
                    result[i] = current + result[i][old.Length..];
                    break;
                }
        return result;
    }

    /// <summary>The error of a value that is not among <paramref name="allowed"/>.</summary>
    internal static string NotOneOf(string name, string value, IEnumerable<string> allowed) =>
        $"{name} '{value}' is not valid: use one of {string.Join(", ", allowed)}.";
}

/// <summary>
/// A flag whose value is one of <typeparamref name="T"/>'s values, written in kebab case (<c>cls-attention</c>; the
/// PascalCase name is read too, in any case), listed in help and checked while parsing. The default is shown in kebab
/// case as well, which is why it is kept here rather than as the option's default value factory.
/// </summary>
internal sealed class ChoiceOption<T> : Option<T?> where T : struct, Enum
{
    public ChoiceOption(string name, string description, T? defaultValue = null) : base(name)
    {
        Default = defaultValue;
        string[] names = Flags.Names<T>();
        Description = defaultValue is { } value ? $"{description} [default: {Flags.Kebab(value.ToString())}]" : description;
        HelpName = string.Join('|', names);
        CompletionSources.Clear();
        CompletionSources.Add(names);
        CustomParser = result =>
        {
            string token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            foreach (var candidate in Enum.GetValues<T>())
                if (string.Equals(token, Flags.Kebab(candidate.ToString()), StringComparison.OrdinalIgnoreCase)
                    || string.Equals(token, candidate.ToString(), StringComparison.OrdinalIgnoreCase))
                    return candidate;
            result.AddError(Flags.NotOneOf(name, token, names));
            return null;
        };
    }

    /// <summary>The value when the flag is not given; null when there is none.</summary>
    public T? Default { get; }

    /// <summary>The flag's value in <paramref name="parse"/>, or <see cref="Default"/>.</summary>
    public T? Get(ParseResult parse) => parse.GetValue(this) ?? Default;
}
