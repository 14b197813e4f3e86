namespace Microsoft.ML.Beit.Segmentation;

/// <summary>One image of a segmentation data set and its label map.</summary>
/// <param name="ImagePath">The image (JPEG, PNG, BMP or WebP).</param>
/// <param name="LabelPath">Its label map: an 8-bit grayscale PNG of class ids (see <see cref="SegmentationLabelMap.Read"/>).</param>
public sealed record SegmentationSample(string ImagePath, string LabelPath);
