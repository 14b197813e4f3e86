namespace Microsoft.ML.Beit.Training;

/// <summary>
/// timm's <c>RandomErasing</c> in "pixel" mode, as unilm fine-tuning uses it (<c>reprob 0.25</c>): with probability
/// <c>probability</c>, one box of 2-33 % of the image with aspect ratio 0.3-3.3 is filled with standard-normal noise,
/// on the normalised pixel values.
/// </summary>
internal sealed class RandomErasing(double probability)
{
    /// <summary>Erases in place a box of the [3, height, width] values of one image.</summary>
    public void Apply(Span<float> values, int height, int width, Random random)
    {
        if (probability <= 0 || random.NextDouble() >= probability) return;
        double area = height * width, logMin = Math.Log(0.3), logMax = Math.Log(1 / 0.3);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (0.02 + (1.0 / 3 - 0.02) * random.NextDouble());
            double aspect = Math.Exp(logMin + (logMax - logMin) * random.NextDouble());
            int h = (int)Math.Round(Math.Sqrt(target * aspect)), w = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w < 1 || h < 1 || w >= width || h >= height) continue;
            int top = random.Next(height - h + 1), left = random.Next(width - w + 1);
            for (int c = 0; c < 3; c++)
                for (int y = top; y < top + h; y++)
                    for (int x = left; x < left + w; x++)
                        values[(c * height + y) * width + x] = (float)Normal(random);
            return;
        }
    }

    static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
