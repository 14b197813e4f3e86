using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;

namespace Microsoft.ML.Beit;

/// <summary>
/// Renders the CLS-to-patch attention that <see cref="BeitPooling.ClsAttention"/> gives as a heatmap over the image, like the
/// self-attention figure of the BEiT paper: the map is upsampled bilinearly to the image, scaled to its own range, colored
/// from dark blue (least attended) to yellow (most) and blended over the image.
/// </summary>
public static class BeitAttentionMaps
{
    /// <summary>One head's map (<paramref name="head"/> 0-based) or, with <paramref name="head"/> null, the mean over heads, as patches row-major.</summary>
    /// <param name="attention">A <see cref="BeitPooling.ClsAttention"/> row: heads x patches.</param>
    /// <param name="heads">The model's attention heads.</param>
    /// <param name="head">Which head, or null for the mean.</param>
    public static float[] Head(ReadOnlySpan<float> attention, int heads, int? head = null)
    {
        if (heads <= 0 || attention.Length % heads != 0)
            throw new ArgumentException($"{attention.Length} attention values do not split into {heads} heads.", nameof(heads));
        int patches = attention.Length / heads;
        if (head is int h && (h < 0 || h >= heads))
            throw new ArgumentOutOfRangeException(nameof(head), head, $"head must be 0..{heads - 1}.");
        var map = new float[patches];
        for (int k = head ?? 0; k < (head is null ? heads : head.Value + 1); k++)
            for (int p = 0; p < patches; p++) map[p] += attention[k * patches + p];
        if (head is null)
            for (int p = 0; p < patches; p++) map[p] /= heads;
        return map;
    }

    /// <summary>The heatmap blended over <paramref name="image"/>, as an RGB image of the image's size.</summary>
    /// <param name="image">The image the map was computed for (any size: the map covers it whole).</param>
    /// <param name="map">A square grid of patch values, row-major (from <see cref="Head"/>).</param>
    /// <param name="alpha">Weight of the heatmap over the image, 0 to 1. Default 0.6.</param>
    public static RgbImage Render(RgbImage image, ReadOnlySpan<float> map, double alpha = 0.6)
    {
        int grid = (int)Math.Round(Math.Sqrt(map.Length));
        if (grid * grid != map.Length || grid == 0) throw new ArgumentException($"{map.Length} values are not a square patch grid.", nameof(map));
        if (alpha is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in [0, 1].");
        float low = float.MaxValue, high = float.MinValue;
        foreach (var v in map) { low = Math.Min(low, v); high = Math.Max(high, v); }
        float range = high > low ? high - low : 1;
        var pixels = new byte[image.Width * image.Height * 3];
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                // Bilinear sample at the pixel centre, patch centres at (i + 0.5) / grid.
                double gx = Math.Clamp((x + 0.5) * grid / image.Width - 0.5, 0, grid - 1), gy = Math.Clamp((y + 0.5) * grid / image.Height - 0.5, 0, grid - 1);
                int x0 = (int)gx, y0 = (int)gy, x1 = Math.Min(x0 + 1, grid - 1), y1 = Math.Min(y0 + 1, grid - 1);
                double fx = gx - x0, fy = gy - y0;
                double value = (map[y0 * grid + x0] * (1 - fx) + map[y0 * grid + x1] * fx) * (1 - fy) + (map[y1 * grid + x0] * (1 - fx) + map[y1 * grid + x1] * fx) * fy;
                var (r, g, b) = Color((value - low) / range);
                int i = (y * image.Width + x) * 3;
                pixels[i] = Blend(image.Pixels[i], r, alpha);
                pixels[i + 1] = Blend(image.Pixels[i + 1], g, alpha);
                pixels[i + 2] = Blend(image.Pixels[i + 2], b, alpha);
            }
        return new RgbImage(image.Width, image.Height, pixels);
    }

    /// <summary>Renders (see <see cref="Render"/>) and writes a PNG.</summary>
    public static void WritePng(string path, RgbImage image, ReadOnlySpan<float> map, double alpha = 0.6)
    {
        var rendered = Render(image, map, alpha);
        SegmentationPng.Write(path, rendered.Pixels, rendered.Width, rendered.Height, 3);
    }

    // A blue-green-yellow ramp (perceptually ordered, readable over gray images).
    static (byte R, byte G, byte B) Color(double t)
    {
        t = Math.Clamp(t, 0, 1);
        double r = t < 0.5 ? 0.27 - 0.1 * t : -0.9 + 1.9 * t, g = 0.05 + 0.85 * t, b = t < 0.5 ? 0.33 + 0.4 * t : 1.03 - 1.0 * t;
        return ((byte)Math.Round(255 * Math.Clamp(r, 0, 1)), (byte)Math.Round(255 * Math.Clamp(g, 0, 1)), (byte)Math.Round(255 * Math.Clamp(b, 0, 1)));
    }

    static byte Blend(byte image, byte color, double alpha) => (byte)Math.Round(image * (1 - alpha) + color * alpha);
}
