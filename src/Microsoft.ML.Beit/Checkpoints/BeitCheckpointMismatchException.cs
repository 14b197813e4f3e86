using System.Text;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>
/// A checkpoint's weights do not fit the model built for it. The message lists the missing,
/// unexpected and mis-shaped keys; the properties hold them all.
/// </summary>
public sealed class BeitCheckpointMismatchException : InvalidOperationException
{
    const int ListedPerKind = 20;

    /// <summary>Creates the exception for checkpoint <paramref name="source"/>.</summary>
    public BeitCheckpointMismatchException(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<string> misshaped)
        : base(Describe(source, missing, unexpected, misshaped))
    {
        CheckpointPath = source;
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        MisshapedKeys = misshaped;
    }

    /// <summary>The checkpoint file or directory.</summary>
    public string CheckpointPath { get; }

    /// <summary>Keys the model needs that the checkpoint lacks.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Keys in the checkpoint that the model does not have.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Keys present in both with different shapes, as <c>key: checkpoint [..] vs model [..]</c>.</summary>
    public IReadOnlyList<string> MisshapedKeys { get; }

    static string Describe(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> misshaped)
    {
        var text = new StringBuilder($"The checkpoint {source} does not fit the BEiT model built for it");
        text.Append($" ({missing.Count} missing, {unexpected.Count} unexpected, {misshaped.Count} mis-shaped keys).");
        void List(string title, IReadOnlyList<string> keys)
        {
            if (keys.Count == 0) return;
            text.Append($"\n{title}:");
            foreach (var key in keys.Take(ListedPerKind)) text.Append($"\n  {key}");
            if (keys.Count > ListedPerKind) text.Append($"\n  ... and {keys.Count - ListedPerKind} more");
        }
        List("Missing keys", missing);
        List("Unexpected keys", unexpected);
        List("Mis-shaped keys", misshaped);
        text.Append("\nCheck that the config (config.json, ConfigPath or --config-path, or the preset) matches the checkpoint.");
        return text.ToString();
    }
}
