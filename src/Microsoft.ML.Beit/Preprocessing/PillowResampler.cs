namespace Microsoft.ML.Beit.Preprocessing;

/// <summary>The resampling filters of Pillow's <c>Image.resize</c>, by their Pillow numbers.</summary>
public enum BeitResample
{
    /// <summary>Pillow LANCZOS (1): windowed sinc, support 3.</summary>
    Lanczos = 1,
    /// <summary>Pillow BILINEAR (2): triangle filter, support 1. The pt22k checkpoints' setting.</summary>
    Bilinear = 2,
    /// <summary>Pillow BICUBIC (3): cubic convolution with a = -0.5, support 2.</summary>
    Bicubic = 3,
    /// <summary>Pillow BOX (4): support 0.5.</summary>
    Box = 4,
    /// <summary>Pillow HAMMING (5): support 1.</summary>
    Hamming = 5,
}

/// <summary>
/// Resizes 8-bit interleaved images exactly as Pillow does: a separable convolution (horizontal pass,
/// then vertical), with the filter widened by the scale factor when downscaling (antialiasing),
/// coefficients in 22-bit fixed point, and each pass rounded and clipped to uint8.
/// </summary>
internal static class PillowResampler
{
    const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resizes <paramref name="pixels"/> ([height, width, channels] bytes) to <paramref name="outWidth"/> x <paramref name="outHeight"/>.</summary>
    public static byte[] Resize(byte[] pixels, int width, int height, int channels, int outWidth, int outHeight, BeitResample filter)
    {
        if (outWidth < 1 || outHeight < 1) throw new ArgumentOutOfRangeException(nameof(outWidth), "output size must be positive");
        var (support, function) = Filter(filter);
        byte[] current = pixels;
        int currentWidth = width;
        if (outWidth != width)
        {
            var (bounds, kernel, size) = Coefficients(width, outWidth, support, function);
            current = Horizontal(current, width, height, channels, outWidth, bounds, kernel, size);
            currentWidth = outWidth;
        }
        if (outHeight != height)
        {
            var (bounds, kernel, size) = Coefficients(height, outHeight, support, function);
            current = Vertical(current, currentWidth, channels, outHeight, bounds, kernel, size);
        }
        return ReferenceEquals(current, pixels) ? (byte[])pixels.Clone() : current;
    }

    static (double Support, Func<double, double> Function) Filter(BeitResample filter) => filter switch
    {
        BeitResample.Bilinear => (1.0, x => Math.Abs(x) < 1.0 ? 1.0 - Math.Abs(x) : 0.0),
        BeitResample.Bicubic => (2.0, Bicubic),
        BeitResample.Lanczos => (3.0, x => x > -3.0 && x < 3.0 ? Sinc(x) * Sinc(x / 3.0) : 0.0),
        BeitResample.Box => (0.5, x => x > -0.5 && x <= 0.5 ? 1.0 : 0.0),
        BeitResample.Hamming => (1.0, Hamming),
        _ => throw new ArgumentOutOfRangeException(nameof(filter), filter,
            "resample must be 1 (lanczos), 2 (bilinear), 3 (bicubic), 4 (box) or 5 (hamming); 0 (nearest) is not supported."),
    };

    static double Bicubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    static double Sinc(double x)
    {
        if (x == 0.0) return 1.0;
        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    static double Hamming(double x)
    {
        x = Math.Abs(x);
        if (x == 0.0) return 1.0;
        if (x >= 1.0) return 0.0;
        x *= Math.PI;
        return Math.Sin(x) / x * (0.54 + 0.46 * Math.Cos(x));
    }

    // For each output index: the first input index, the number of inputs, and their fixed-point weights.
    static (int[] Bounds, int[] Kernel, int KernelSize) Coefficients(int inSize, int outSize, double filterSupport, Func<double, double> filter)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterSupport * filterScale;
        int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var kernel = new int[outSize * kernelSize];
        var weights = new double[kernelSize];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            int min = Math.Max((int)(center - support + 0.5), 0);
            int count = Math.Min((int)(center + support + 0.5), inSize) - min;
            double total = 0;
            for (int i = 0; i < count; i++)
            {
                weights[i] = filter((i + min - center + 0.5) / filterScale);
                total += weights[i];
            }
            for (int i = 0; i < count; i++)
            {
                double w = total != 0 ? weights[i] / total : weights[i];
                kernel[o * kernelSize + i] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            bounds[o * 2] = min;
            bounds[o * 2 + 1] = count;
        }
        return (bounds, kernel, kernelSize);
    }

    static byte Clip(int accumulated)
    {
        int value = accumulated >> PrecisionBits;
        return value < 0 ? (byte)0 : value > 255 ? (byte)255 : (byte)value;
    }

    static byte[] Horizontal(byte[] input, int width, int height, int channels, int outWidth, int[] bounds, int[] kernel, int kernelSize)
    {
        var output = new byte[outWidth * height * channels];
        for (int y = 0; y < height; y++)
        {
            int row = y * width * channels;
            for (int o = 0; o < outWidth; o++)
            {
                int min = bounds[o * 2], count = bounds[o * 2 + 1], k = o * kernelSize;
                for (int c = 0; c < channels; c++)
                {
                    int sum = 1 << (PrecisionBits - 1);
                    for (int i = 0; i < count; i++)
                        sum += input[row + (min + i) * channels + c] * kernel[k + i];
                    output[(y * outWidth + o) * channels + c] = Clip(sum);
                }
            }
        }
        return output;
    }

    static byte[] Vertical(byte[] input, int width, int channels, int outHeight, int[] bounds, int[] kernel, int kernelSize)
    {
        int stride = width * channels;
        var output = new byte[outHeight * stride];
        for (int o = 0; o < outHeight; o++)
        {
            int min = bounds[o * 2], count = bounds[o * 2 + 1], k = o * kernelSize;
            for (int x = 0; x < stride; x++)
            {
                int sum = 1 << (PrecisionBits - 1);
                for (int i = 0; i < count; i++)
                    sum += input[(min + i) * stride + x] * kernel[k + i];
                output[o * stride + x] = Clip(sum);
            }
        }
        return output;
    }
}
