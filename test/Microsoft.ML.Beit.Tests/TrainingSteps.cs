using System.Text.Json;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Records every progress report on the training thread (a synchronous <see cref="IProgress{T}"/>; <see cref="Progress{T}"/>
/// would post to the thread pool and could report after Fit returns), and optionally cancels once a step is reached.
/// </summary>
internal sealed class TrainingSteps(CancellationTokenSource? cancel = null, int cancelAtStep = int.MaxValue) : IProgress<BeitTrainingProgress>
{
    public List<BeitTrainingProgress> Reports { get; } = [];

    /// <summary>The optimizer steps reported, in order (validation reports carry a NaN loss and are left out).</summary>
    public List<int> Steps => Reports.Where(r => !double.IsNaN(r.Loss)).Select(r => r.Step).ToList();

    public void Report(BeitTrainingProgress value)
    {
        Reports.Add(value);
        if (value.Step >= cancelAtStep) cancel?.Cancel();
    }

    /// <summary>Steps first..last.</summary>
    public static List<int> Range(int first, int last) => Enumerable.Range(first, last - first + 1).ToList();

    /// <summary>The optimizer step of the checkpoint that <c>latest</c> names in a checkpoint folder, read from its state file.</summary>
    public static int LatestCheckpointStep(string checkpoints)
    {
        string latest = Path.Combine(checkpoints, "latest");
        Assert.IsTrue(File.Exists(latest), $"no checkpoint was written to {checkpoints}");
        string state = Path.Combine(checkpoints, File.ReadAllText(latest).Trim(), "state.json");
        using var document = JsonDocument.Parse(File.ReadAllText(state));
        return document.RootElement.GetProperty("Step").GetInt32();
    }

    /// <summary>Largest absolute difference of two equally long arrays (a length mismatch fails rather than being cut short by Zip).</summary>
    public static double MaxAbsDiff(IReadOnlyList<float> expected, IReadOnlyList<float> actual)
    {
        Assert.AreEqual(expected.Count, actual.Count, "the two runs produced different numbers of values");
        Assert.IsNotEmpty(expected, "nothing to compare");
        return expected.Zip(actual).Max(p => Math.Abs((double)p.First - p.Second));
    }
}

/// <summary>Compares the backbone weights of two models (directories, checkpoint files or model zips), key by key.</summary>
internal static class Backbones
{
    /// <summary>
    /// The largest absolute difference over the encoder and patch-embedding weights both models hold under the same name
    /// and shape, and how many tensors were compared.
    /// </summary>
    public static (double MaxAbsDiff, int Compared) Difference(string a, string b)
    {
        using var first = BeitModelSource.FromPath(a).Load();
        using var second = BeitModelSource.FromPath(b).Load();
        double worst = 0;
        int compared = 0;
        foreach (var (name, tensor) in first.Weights)
        {
            if (!(name.StartsWith("beit.encoder.layer.", StringComparison.Ordinal) || name.StartsWith("beit.embeddings.patch_embeddings.", StringComparison.Ordinal))
                || !second.Weights.TryGetValue(name, out var other) || !tensor.shape.SequenceEqual(other.shape) || !tensor.is_floating_point())
                continue;
            worst = Math.Max(worst, ReferenceData.MaxAbsDiff(other, tensor));
            compared++;
        }
        return (worst, compared);
    }
}
