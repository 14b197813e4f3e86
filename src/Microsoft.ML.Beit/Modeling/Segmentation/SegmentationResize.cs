using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The one resize the segmentation heads use: bilinear with <c>align_corners=False</c>, as mmseg and Hugging Face do.</summary>
internal static class SegmentationResize
{
    /// <summary><paramref name="input"/> [B, C, h, w] resized to <paramref name="size"/> (height, width).</summary>
    public static Tensor Bilinear(Tensor input, long[] size) =>
        input.shape[2] == size[0] && input.shape[3] == size[1]
            ? input.alias()
            : nn.functional.interpolate(input, size, mode: InterpolationMode.Bilinear, align_corners: false);
}
