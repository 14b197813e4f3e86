using Microsoft.ML.Beit.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Training;

/// <summary>
/// AdamW (decoupled weight decay) over layer-decayed parameter groups, with its state saved as safetensors.
/// Written here rather than using TorchSharp's optimizer because every scalar handed to LibTorch must stay alive
/// for the native call: TorchSharp 0.107's AdamW passes temporary scalars that the garbage collector can free
/// mid-call, which crashed long training runs inside <c>addcdiv_</c>.
/// </summary>
internal sealed class BeitAdamW(IReadOnlyList<BeitParameterGroup> groups, double beta1, double beta2, double epsilon) : IDisposable
{
    readonly List<(BeitParameterGroup Group, Parameter Parameter, Tensor ExpAvg, Tensor ExpAvgSq)> _slots =
        groups.SelectMany(g => g.Parameters.Select(p => (g, p, zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope()))).ToList();

    /// <summary>Optimizer steps taken.</summary>
    public long Steps { get; private set; }

    /// <summary>One update with peak learning rate <paramref name="learningRate"/> (each group scales it).</summary>
    public void Step(double learningRate)
    {
        Steps++;
        using var noGrad = no_grad();
        double correction1 = 1 - Math.Pow(beta1, Steps), correction2 = Math.Sqrt(1 - Math.Pow(beta2, Steps));
        using var b1 = beta1.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var sqrtCorrection2 = correction2.ToScalar();
        using var eps = epsilon.ToScalar();
        foreach (var group in _slots.GroupBy(s => s.Group))
        {
            double lr = learningRate * group.Key.LearningRateScale;
            using var decay = (1 - lr * group.Key.WeightDecay).ToScalar();
            using var stepSize = (-lr / correction1).ToScalar();
            foreach (var (_, parameter, expAvg, expAvgSq) in group)
            {
                using var scope = NewDisposeScope();
                var grad = parameter.grad;
                if (grad is null) continue;
                if (group.Key.WeightDecay > 0) parameter.mul_(decay);
                expAvg.mul_(b1).add_(grad, oneMinusB1);
                expAvgSq.mul_(b2).addcmul_(grad, grad, oneMinusB2);
                var denominator = expAvgSq.sqrt().div_(sqrtCorrection2).add_(eps);
                parameter.addcdiv_(expAvg, denominator, stepSize);
            }
        }
    }

    /// <summary>Writes the moments and the step count.</summary>
    public void Save(string path) =>
        SafetensorsFile.Write(path, _slots.SelectMany((s, i) => new[] { KeyValuePair.Create($"{i}.exp_avg", s.ExpAvg), KeyValuePair.Create($"{i}.exp_avg_sq", s.ExpAvgSq) }),
            new Dictionary<string, string> { ["steps"] = Steps.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    /// <summary>Restores what <see cref="Save"/> wrote for the same parameters.</summary>
    public void Load(string path)
    {
        var state = SafetensorsFile.Read(path, out var metadata);
        try
        {
            if (state.Count != 2 * _slots.Count)
                throw new InvalidDataException($"{path} holds optimizer state for {state.Count / 2} parameters; the model has {_slots.Count}.");
            using var noGrad = no_grad();
            for (int i = 0; i < _slots.Count; i++)
            {
                _slots[i].ExpAvg.copy_(state[$"{i}.exp_avg"]);
                _slots[i].ExpAvgSq.copy_(state[$"{i}.exp_avg_sq"]);
            }
            Steps = long.Parse(metadata["steps"], System.Globalization.CultureInfo.InvariantCulture);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var slot in _slots)
        {
            slot.ExpAvg.Dispose();
            slot.ExpAvgSq.Dispose();
        }
    }
}
