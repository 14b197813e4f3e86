using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Tensor-with-number arithmetic whose scalar lives until the native call returns. An implicit conversion
/// (<c>tensor * 0.5</c>) makes a temporary TorchSharp <c>Scalar</c> that the garbage collector may finalise while
/// LibTorch still reads it; on hot training paths that crashed long runs, so these keep the scalar alive.
/// </summary>
internal static class ScalarOps
{
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
