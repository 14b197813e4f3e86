using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>An image and its label map: one class id (or the ignore value) per pixel, row-major, the image's size.</summary>
internal sealed record SegmentedImage(RgbImage Image, byte[] Labels)
{
    /// <summary>Where the sample came from, for error messages.</summary>
    public string Source { get; init; } = "a sample";

    /// <summary>The gray values of a label map decoded as RGB; a colored pixel is an error naming <paramref name="where"/>.</summary>
    public static byte[] GrayValues(RgbImage labelMap, string where)
    {
        var labels = new byte[labelMap.Width * labelMap.Height];
        var rgb = labelMap.Pixels;
        for (int p = 0; p < labels.Length; p++)
        {
            byte r = rgb[3 * p], g = rgb[3 * p + 1], b = rgb[3 * p + 2];
            if (r != g || g != b)
                throw new InvalidDataException(
                    $"{where}: the label map is in color (pixel ({p % labelMap.Width}, {p / labelMap.Width}) is RGB {r},{g},{b}); " +
                    "label maps must hold class ids as gray values (an 8-bit grayscale PNG).");
            labels[p] = r;
        }
        return labels;
    }

    /// <summary>Checks that a label map is its image's size; the error names <paramref name="where"/> and both sizes.</summary>
    public static void CheckSize(int width, int height, RgbImage image, string where)
    {
        if (width != image.Width || height != image.Height)
            throw new InvalidDataException(
                $"{where}: the label map is {width}x{height} but the image is {image.Width}x{image.Height}; they must be the same size.");
    }

    /// <summary>
    /// The loss's and metrics' view of raw labels: with <paramref name="reduceLabels"/> (ADE20K), 0 becomes the ignore
    /// value and the rest drop by one; any other value outside the classes is an error naming <paramref name="where"/>.
    /// </summary>
    public static long[] Targets(byte[] labels, int classes, int ignoreIndex, bool reduceLabels, string where)
    {
        var targets = new long[labels.Length];
        for (int p = 0; p < labels.Length; p++)
        {
            int value = labels[p];
            if (reduceLabels && value != ignoreIndex) value = value == 0 ? ignoreIndex : value - 1;
            if (value != ignoreIndex && value >= classes)
                throw new InvalidDataException(
                    $"{where}: label {labels[p]} at pixel {p} is out of range: the classes are 0..{classes - 1}" +
                    $"{(reduceLabels ? " after ReduceLabels (raw 1.." + classes + ", 0 ignored)" : "")} and {ignoreIndex} is ignored.");
            targets[p] = value;
        }
        return targets;
    }
}
