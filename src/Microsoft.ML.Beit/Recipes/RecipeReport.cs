using System.Globalization;

namespace Microsoft.ML.Beit.Recipes;

/// <summary>
/// The recipe a trainer chose, as the block it prints at the start and records in the model zip: which recipe, why,
/// and every value it trains with, marking the ones the caller set.
/// </summary>
internal sealed class RecipeReport(BeitRecipe recipe, string because)
{
    readonly List<string> _lines = [];
    readonly List<string> _current = [];

    /// <summary>The recipe that filled the unset options.</summary>
    public BeitRecipe Recipe { get; } = recipe;

    /// <summary>Starts a new line of the block, for example "schedule".</summary>
    public void Line(string heading)
    {
        Flush();
        _current.Add(heading + ":");
    }

    /// <summary>Fills <paramref name="value"/> from the recipe when it is null, records it, and returns what training uses.</summary>
    public T Choose<T>(string name, T? value, T recipeValue) where T : struct
    {
        var chosen = value ?? recipeValue;
        _current.Add($"{name} {Format(chosen)}{(value is null ? "" : " (set)")}");
        return chosen;
    }

    /// <summary>Records a value the recipe does not choose (for example the batch size).</summary>
    public void Note(string name, object value) => _current.Add($"{name} {Format(value)}");

    /// <summary>The block: a first line naming the recipe and the reason, then one indented line per group.</summary>
    public string Describe()
    {
        Flush();
        string name = Recipe switch
        {
            BeitRecipe.FromScratch => "from scratch",
            BeitRecipe.Pretrained => "fine-tuning a pretrained backbone",
            BeitRecipe.ContinueTraining => "continuing a fine-tuned model",
            _ => Recipe.ToString(),
        };
        return $"recipe: {name}, because {because}; options marked (set) were given and win over the recipe" + Environment.NewLine +
            string.Join(Environment.NewLine, _lines.Select(l => "  " + l));
    }

    void Flush()
    {
        if (_current.Count > 0) _lines.Add(_current[0] + " " + string.Join(", ", _current.Skip(1)));
        _current.Clear();
    }

    static string Format(object value) => value switch
    {
        double d when d != 0 && (Math.Abs(d) < 1e-3 || Math.Abs(d) >= 1e5) => d.ToString("0.##E+0", CultureInfo.InvariantCulture),
        double d => d.ToString("0.####", CultureInfo.InvariantCulture),
        bool b => b ? "on" : "off",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
