using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Training;

/// <summary>
/// Batch-level mixup and cutmix as timm's <c>Mixup</c> (which unilm fine-tuning uses with mixup alpha 0.8, cutmix
/// alpha 1.0, switch probability 0.5): each batch is blended with itself reversed, either entirely (mixup, weight
/// lambda ~ Beta(alpha, alpha)) or in one box (cutmix, lambda corrected to the box's true area), and the targets
/// become the same blend of label-smoothed one-hot vectors.
/// </summary>
internal sealed class MixupCutmix(double mixupAlpha, double cutmixAlpha, double switchProbability, double labelSmoothing, int classes)
{
    /// <summary>Whether either is on.</summary>
    public bool Enabled => mixupAlpha > 0 || cutmixAlpha > 0;

    /// <summary>Mixes <paramref name="images"/> ([B, C, H, W]) in place and returns the soft targets [B, classes].</summary>
    public Tensor Apply(Tensor images, Tensor labels, Random random)
    {
        bool cutmix = cutmixAlpha > 0 && (mixupAlpha <= 0 || random.NextDouble() < switchProbability);
        double lambda = Beta(cutmix ? cutmixAlpha : mixupAlpha, random);
        using var noGrad = no_grad();
        using var reversed = images.flip(0);
        if (cutmix)
        {
            long height = images.shape[2], width = images.shape[3];
            double ratio = Math.Sqrt(1 - lambda);
            long cutH = (long)(height * ratio), cutW = (long)(width * ratio);
            long cy = random.NextInt64(height), cx = random.NextInt64(width);
            long y0 = Math.Clamp(cy - cutH / 2, 0, height), y1 = Math.Clamp(cy + cutH / 2, 0, height);
            long x0 = Math.Clamp(cx - cutW / 2, 0, width), x1 = Math.Clamp(cx + cutW / 2, 0, width);
            if (y1 > y0 && x1 > x0)
            {
                var box = new[] { TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(y0, y1), TensorIndex.Slice(x0, x1) };
                using var patch = reversed.index(box);
                images.index_put_(patch, box);
            }
            lambda = 1 - (double)((y1 - y0) * (x1 - x0)) / (height * width);
        }
        else
        {
            using var mixed = ScalarOps.Blend(images, lambda, reversed, 1 - lambda);
            images.copy_(mixed);
        }
        double off = labelSmoothing / classes, on = 1 - labelSmoothing + off;
        using var hot = nn.functional.one_hot(labels, classes).to(ScalarType.Float32);
        using var scaled = ScalarOps.Mul(hot, on - off);
        using var offset = full_like(scaled, off);
        using var smooth = scaled.add(offset);
        using var flipped = smooth.flip(0);
        return ScalarOps.Blend(smooth, lambda, flipped, 1 - lambda);
    }

    /// <summary>Beta(a, a) from two gamma draws (Marsaglia-Tsang), so a seeded <see cref="Random"/> repeats it.</summary>
    static double Beta(double a, Random random)
    {
        double x = Gamma(a, random), y = Gamma(a, random);
        return x / (x + y);
    }

    static double Gamma(double shape, Random random)
    {
        if (shape < 1) return Gamma(shape + 1, random) * Math.Pow(random.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                // Box-Muller standard normal.
                x = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = random.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }
}
