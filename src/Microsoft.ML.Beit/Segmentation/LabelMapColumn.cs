using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// Reads label maps from a column: paths and encoded bytes through <see cref="SegmentationLabelMap"/> (which refuses JPEGs,
/// 16-bit and low-bit gray maps whose decoded values would not be the stored ids), images from <c>LoadImages</c> as gray values.
/// </summary>
internal static class LabelMapColumn
{
    /// <summary>A function that reads the current row's label map: class ids row-major, and the map's size.</summary>
    public static Func<string, (byte[] Labels, int Width, int Height)> Reader(DataViewRow row, DataViewSchema.Column column)
    {
        switch (column.Type)
        {
            case TextDataViewType:
            {
                var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> path = default;
                return where =>
                {
                    getter(ref path);
                    if (path.Length == 0) throw new InvalidDataException($"{where}: the label-map path is empty.");
                    var labels = SegmentationLabelMap.Read(path.ToString(), out int width, out int height);
                    return (labels, width, height);
                };
            }
            case ImageDataViewType:
            {
                var read = ImageColumn.Reader(row, column);
                return where =>
                {
                    var image = read(where);
                    return (SegmentedImage.GrayValues(image, where), image.Width, image.Height);
                };
            }
            default:
            {
                var getter = row.GetGetter<VBuffer<byte>>(column);
                VBuffer<byte> bytes = default;
                return where =>
                {
                    getter(ref bytes);
                    var labels = SegmentationLabelMap.Decode(bytes.DenseValues().ToArray(), where, out int width, out int height);
                    return (labels, width, height);
                };
            }
        }
    }
}
