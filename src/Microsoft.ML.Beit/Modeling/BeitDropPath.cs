using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Stochastic depth: in training, drops a residual branch for a random subset of samples and scales
/// the kept ones by 1 / (1 - rate); the identity in evaluation.
/// </summary>
public sealed class BeitDropPath : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module with drop probability <paramref name="rate"/>.</summary>
    public BeitDropPath(double rate) : base(nameof(BeitDropPath))
    {
        if (rate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(rate), rate, "drop path rate must be in [0, 1).");
        Rate = rate;
    }

    /// <summary>Probability of dropping the branch for a sample.</summary>
    public double Rate { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (!training || Rate == 0) return input.alias();
        using var scope = NewDisposeScope();
        var shape = new long[input.dim()];
        Array.Fill(shape, 1L);
        shape[0] = input.shape[0];
        var keep = empty(shape, input.dtype, input.device).bernoulli_(1 - Rate);
        return ScalarOps.Mul(input * keep, 1 / (1 - Rate)).MoveToOuterDisposeScope();
    }
}
