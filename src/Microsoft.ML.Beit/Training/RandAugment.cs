using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Training;

/// <summary>
/// A RandAugment policy like timm's <c>rand-m9-mstd0.5-inc1</c>, which unilm fine-tuning uses: for each image,
/// <c>layers</c> operations drawn at random, each applied with probability 0.5 at a magnitude drawn around
/// <c>magnitude</c> (of 10) with standard deviation 0.5, severity increasing with the magnitude. Operations:
/// auto-contrast, equalize, invert, rotate, posterize, solarize, solarize-add, color, contrast, brightness,
/// sharpness, shear and translate (geometric ones resample bilinearly and fill with the ImageNet mean colour).
/// </summary>
internal sealed class RandAugment(int layers = 2, double magnitude = 9, double magnitudeStd = 0.5)
{
    delegate RgbImage Operation(RgbImage image, double level, Random random);

    static readonly Operation[] Operations =
    [
        (img, _, _) => AutoContrast(img),
        (img, _, _) => Equalize(img),
        (img, _, _) => Map(img, v => (byte)(255 - v)),
        (img, level, r) => Affine(img, Rotation(Signed(level * 30, r)), aboutCentre: true),
        (img, level, _) => Posterize(img, 4 - (int)(level * 4)),
        (img, level, _) => Map(img, v => v >= 256 - (int)(level * 256) ? (byte)(255 - v) : v),
        (img, level, _) => Map(img, v => v < 128 ? (byte)Math.Min(255, v + (int)(level * 110)) : v),
        (img, level, r) => Blend(Grayscale(img), img, 1 + Signed(level * 0.9, r)),
        (img, level, r) => Blend(MeanGray(img), img, 1 + Signed(level * 0.9, r)),
        (img, level, r) => Blend(new RgbImage(img.Width, img.Height, new byte[img.Pixels.Length]), img, 1 + Signed(level * 0.9, r)),
        (img, level, r) => Blend(Smooth(img), img, 1 + Signed(level * 0.9, r)),
        (img, level, r) => Affine(img, (1, Signed(level * 0.3, r), 0, 0, 1, 0), aboutCentre: false),
        (img, level, r) => Affine(img, (1, 0, 0, Signed(level * 0.3, r), 1, 0), aboutCentre: false),
        (img, level, r) => Affine(img, (1, 0, Signed(level * 0.45, r) * img.Width, 0, 1, 0), aboutCentre: false),
        (img, level, r) => Affine(img, (1, 0, 0, 0, 1, Signed(level * 0.45, r) * img.Height), aboutCentre: false),
    ];

    static readonly byte[] Fill = [124, 116, 104];

    public RgbImage Apply(RgbImage image, Random random)
    {
        for (int i = 0; i < layers; i++)
        {
            var operation = Operations[random.Next(Operations.Length)];
            if (random.NextDouble() >= 0.5) continue;
            double m = magnitude + (magnitudeStd > 0 ? magnitudeStd * Normal(random) : 0);
            image = operation(image, Math.Clamp(m, 0, 10) / 10, random);
        }
        return image;
    }

    static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    static double Signed(double value, Random random) => random.NextDouble() < 0.5 ? -value : value;

    static RgbImage Map(RgbImage image, Func<byte, byte> f)
    {
        var lookup = new byte[256];
        for (int v = 0; v < 256; v++) lookup[v] = f((byte)v);
        return image with { Pixels = Array.ConvertAll(image.Pixels, v => lookup[v]) };
    }

    static RgbImage Posterize(RgbImage image, int bits)
    {
        bits = Math.Clamp(bits, 0, 8);
        byte mask = bits == 0 ? (byte)0 : (byte)(0xff << (8 - bits));
        return Map(image, v => (byte)(v & mask));
    }

    static RgbImage AutoContrast(RgbImage image)
    {
        var pixels = (byte[])image.Pixels.Clone();
        for (int c = 0; c < 3; c++)
        {
            int low = 255, high = 0;
            for (int p = c; p < pixels.Length; p += 3) { low = Math.Min(low, pixels[p]); high = Math.Max(high, pixels[p]); }
            if (high <= low) continue;
            double scale = 255.0 / (high - low);
            for (int p = c; p < pixels.Length; p += 3) pixels[p] = (byte)Math.Clamp((int)((pixels[p] - low) * scale + 0.5), 0, 255);
        }
        return image with { Pixels = pixels };
    }

    // Per-channel histogram equalisation, as PIL's ImageOps.equalize.
    static RgbImage Equalize(RgbImage image)
    {
        var pixels = (byte[])image.Pixels.Clone();
        for (int c = 0; c < 3; c++)
        {
            var histogram = new int[256];
            for (int p = c; p < pixels.Length; p += 3) histogram[pixels[p]]++;
            int last = 255;
            while (last > 0 && histogram[last] == 0) last--;
            int step = (histogram.Sum() - histogram[last]) / 255;
            if (step == 0) continue;
            var lookup = new byte[256];
            int n = step / 2;
            for (int v = 0; v < 256; v++)
            {
                lookup[v] = (byte)Math.Min(255, n / step);
                n += histogram[v];
            }
            for (int p = c; p < pixels.Length; p += 3) pixels[p] = lookup[pixels[p]];
        }
        return image with { Pixels = pixels };
    }

    static RgbImage Grayscale(RgbImage image)
    {
        var pixels = new byte[image.Pixels.Length];
        for (int p = 0; p < pixels.Length; p += 3)
        {
            byte l = (byte)((image.Pixels[p] * 299 + image.Pixels[p + 1] * 587 + image.Pixels[p + 2] * 114 + 500) / 1000);
            pixels[p] = pixels[p + 1] = pixels[p + 2] = l;
        }
        return image with { Pixels = pixels };
    }

    static RgbImage MeanGray(RgbImage image)
    {
        var gray = Grayscale(image).Pixels;
        double mean = 0;
        for (int p = 0; p < gray.Length; p += 3) mean += gray[p];
        byte value = (byte)(mean / (gray.Length / 3) + 0.5);
        return image with { Pixels = Enumerable.Repeat(value, gray.Length).ToArray() };
    }

    // PIL's SMOOTH filter (3x3, centre 5, others 1, /13) inside, borders unchanged.
    static RgbImage Smooth(RgbImage image)
    {
        var source = image.Pixels;
        var pixels = (byte[])source.Clone();
        int w = image.Width, h = image.Height;
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 4 * source[(y * w + x) * 3 + c];
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                            sum += source[((y + dy) * w + x + dx) * 3 + c];
                    pixels[(y * w + x) * 3 + c] = (byte)((sum + 6) / 13);
                }
        return image with { Pixels = pixels };
    }

    // PIL ImageEnhance: degenerate * (1 - factor) + image * factor, clipped.
    static RgbImage Blend(RgbImage degenerate, RgbImage image, double factor)
    {
        var pixels = new byte[image.Pixels.Length];
        for (int p = 0; p < pixels.Length; p++)
            pixels[p] = (byte)Math.Clamp((int)Math.Round(degenerate.Pixels[p] * (1 - factor) + image.Pixels[p] * factor), 0, 255);
        return image with { Pixels = pixels };
    }

    static (double, double, double, double, double, double) Rotation(double degrees)
    {
        double a = degrees * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a);
        return (cos, sin, 0, -sin, cos, 0);
    }

    // Inverse affine map from output to input coordinates, about the centre for rotation (PIL's rotate) and the
    // top-left corner for shear and translation (PIL's transform), bilinear sampling, fill outside.
    static RgbImage Affine(RgbImage image, (double A, double B, double C, double D, double E, double F) m, bool aboutCentre)
    {
        int w = image.Width, h = image.Height;
        double cx = aboutCentre ? w / 2.0 : 0.5, cy = aboutCentre ? h / 2.0 : 0.5;
        var source = image.Pixels;
        var pixels = new byte[source.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double ox = x + 0.5 - cx, oy = y + 0.5 - cy;
                double sx = m.A * ox + m.B * oy + m.C + cx - 0.5, sy = m.D * ox + m.E * oy + m.F + cy - 0.5;
                int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                double fx = sx - x0, fy = sy - y0;
                for (int c = 0; c < 3; c++)
                {
                    double Sample(int px, int py) => px < 0 || py < 0 || px >= w || py >= h ? Fill[c] : source[(py * w + px) * 3 + c];
                    double value = (1 - fy) * ((1 - fx) * Sample(x0, y0) + fx * Sample(x0 + 1, y0)) + fy * ((1 - fx) * Sample(x0, y0 + 1) + fx * Sample(x0 + 1, y0 + 1));
                    pixels[(y * w + x) * 3 + c] = (byte)Math.Clamp((int)(value + 0.5), 0, 255);
                }
            }
        return image with { Pixels = pixels };
    }
}
