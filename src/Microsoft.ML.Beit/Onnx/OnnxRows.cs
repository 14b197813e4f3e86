using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>The batch plumbing the ONNX Runtime engines share.</summary>
internal static class OnnxRows
{
    /// <summary>Preprocesses <paramref name="images"/> as one batch and returns one output of the graph, flattened.</summary>
    public static float[] Run(this BeitOnnxSession session, BeitImageProcessor processor, IReadOnlyList<RgbImage> images, string output)
    {
        var (pixels, height, width) = processor.ProcessBatchValues(images);
        return session.Run(pixels, images.Count, 3, height, width, output)[0];
    }

    /// <summary>A flat [rows, size] array as one array per row.</summary>
    public static float[][] Split(float[] flat, int rows, int size)
    {
        if (flat.Length != (long)rows * size)
            throw new InvalidOperationException($"The ONNX graph returned {flat.Length} values for {rows} rows of {size}.");
        var result = new float[rows][];
        for (int i = 0; i < rows; i++) result[i] = flat.AsSpan(i * size, size).ToArray();
        return result;
    }
}
