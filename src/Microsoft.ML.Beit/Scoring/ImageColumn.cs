using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// Reads images from the column kinds ML.NET pipelines carry: <c>MLImage</c> (from <c>LoadImages</c>),
/// encoded bytes (from <c>LoadRawImageBytes</c>, a byte vector) and file paths (text).
/// </summary>
internal static class ImageColumn
{
    public const string Kinds = "an image (LoadImages), a byte vector of an encoded image (LoadRawImageBytes) or a text file path";

    /// <summary>Whether a column of this type holds images this featurizer can read.</summary>
    public static bool IsSupported(DataViewType type) =>
        type is ImageDataViewType || type is TextDataViewType || type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Byte;

    /// <summary>Whether a schema-shape column (estimator schema propagation) holds images this featurizer can read.</summary>
    public static bool IsSupported(SchemaShape.Column column) =>
        column.ItemType is ImageDataViewType && column.Kind == SchemaShape.Column.VectorKind.Scalar
        || column.ItemType is TextDataViewType && column.Kind == SchemaShape.Column.VectorKind.Scalar
        || column.ItemType == NumberDataViewType.Byte && column.Kind != SchemaShape.Column.VectorKind.Scalar;

    /// <summary>Throws an error naming the column when it does not exist or holds no images.</summary>
    public static DataViewSchema.Column Find(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), $"Input column '{name}' is not in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (!IsSupported(column.Type))
            throw new ArgumentOutOfRangeException(nameof(name), $"Input column '{name}' is {column.Type}; a BEiT image column must be {Kinds}.");
        return column;
    }

    /// <summary>A function that reads the current row's image, decoding bytes or files as needed.</summary>
    public static Func<string, RgbImage> Reader(DataViewRow row, DataViewSchema.Column column)
    {
        switch (column.Type)
        {
            case ImageDataViewType:
            {
                var getter = row.GetGetter<MLImage>(column);
                MLImage image = null!;
                return where =>
                {
                    getter(ref image);
                    return image is null
                        ? throw new InvalidDataException($"{where}: there is no image (LoadImages produced none).")
                        : RgbImage.FromMLImage(image);
                };
            }
            case TextDataViewType:
            {
                var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> path = default;
                return where =>
                {
                    getter(ref path);
                    string file = path.ToString();
                    if (file.Length == 0) throw new InvalidDataException($"{where}: the image path is empty.");
                    return RgbImage.Load(file);
                };
            }
            default:
            {
                var getter = row.GetGetter<VBuffer<byte>>(column);
                VBuffer<byte> bytes = default;
                return where =>
                {
                    getter(ref bytes);
                    return RgbImage.Decode(bytes.IsDense ? bytes.GetValues() : bytes.DenseValues().ToArray(), where);
                };
            }
        }
    }
}
