using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Recipes;

/// <summary>What a recipe reads from a few training images before training starts.</summary>
internal static class ImageSurvey
{
    /// <summary>How many of the first training images the survey decodes.</summary>
    public const int SampleSize = 16;

    /// <summary>The median side of <paramref name="images"/>, each counted as the square root of its area.</summary>
    public static int TypicalSide(IReadOnlyList<RgbImage> images)
    {
        if (images.Count == 0) throw new ArgumentException("The survey needs at least one image.", nameof(images));
        var sides = images.Select(i => Math.Sqrt((double)i.Width * i.Height)).Order().ToList();
        return (int)Math.Round(sides[sides.Count / 2]);
    }
}
