using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>Strict loading of named weights into a module: every key must match by name and shape.</summary>
internal static class BeitStateDict
{
    /// <summary>
    /// Copies <paramref name="weights"/> into <paramref name="module"/>'s parameters and buffers
    /// (converting dtype and device as needed).
    /// </summary>
    /// <exception cref="BeitCheckpointMismatchException">Some key is missing, unexpected or mis-shaped; nothing is copied then.</exception>
    public static void Load(nn.Module module, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var targets = module.state_dict();
        var missing = targets.Keys.Where(k => !weights.ContainsKey(k)).ToList();
        var unexpected = weights.Keys.Where(k => !targets.ContainsKey(k)).ToList();
        var misshaped = targets.Where(p => weights.TryGetValue(p.Key, out var w) && !w.shape.SequenceEqual(p.Value.shape))
            .Select(p => $"{p.Key}: checkpoint [{string.Join(", ", weights[p.Key].shape)}] vs model [{string.Join(", ", p.Value.shape)}]")
            .ToList();
        if (missing.Count + unexpected.Count + misshaped.Count > 0)
            throw new BeitCheckpointMismatchException(source, missing, unexpected, misshaped);

        using var noGrad = no_grad();
        foreach (var (key, target) in targets)
            target.copy_(weights[key]);
    }
}
