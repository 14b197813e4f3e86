using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Tensor-with-number arithmetic whose scalar lives until the native call returns. An implicit conversion
/// (<c>tensor * 0.5</c>) makes a temporary TorchSharp <c>Scalar</c> that the garbage collector may finalise while
/// LibTorch still reads it (TorchSharp 0.107 neither keeps it alive nor tracks it in dispose scopes); that crashed
/// long training runs, so the model and the training loop do their arithmetic through these, which keep it alive.
/// </summary>
internal static class ScalarOps
{
    // Tensor + tensor passes an alpha scalar too (TorchSharp's add(t) is add(t, 1) with a temporary). This one is
    // never disposed: it lives as long as the process, so LibTorch can always read it.
    static readonly Scalar One = 1.0.ToScalar();
    static readonly Scalar MinusOne = (-1.0).ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/>.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> - <paramref name="b"/>.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => a.add(b, MinusOne);

    public static Tensor Mul(Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.mul(scalar);
    }

    /// <summary><paramref name="tensor"/> * <paramref name="a"/> + <paramref name="other"/> * <paramref name="b"/>.</summary>
    public static Tensor Blend(Tensor tensor, double a, Tensor other, double b)
    {
        using var first = a.ToScalar();
        using var second = b.ToScalar();
        using var scaled = tensor.mul(first);
        return scaled.add(other, second);
    }
}
