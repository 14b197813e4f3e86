namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// Managed versions of the per-pixel steps of segmentation inference, for the ONNX Runtime backend (which has no LibTorch):
/// LibTorch's bilinear resize with <c>align_corners=False</c> and no antialiasing, the argmax over classes and the softmax.
/// </summary>
internal static class BilinearPlanes
{
    /// <summary><paramref name="planes"/> [channels, height, width] resized to [channels, outHeight, outWidth].</summary>
    public static float[] Resize(float[] planes, int channels, int height, int width, int outHeight, int outWidth)
    {
        if (height == outHeight && width == outWidth) return planes;
        var (rowLow, rowHigh, rowWeight) = Taps(height, outHeight);
        var (colLow, colHigh, colWeight) = Taps(width, outWidth);
        var result = new float[channels * outHeight * outWidth];
        for (int c = 0; c < channels; c++)
        {
            var plane = planes.AsSpan(c * height * width, height * width);
            var output = result.AsSpan(c * outHeight * outWidth, outHeight * outWidth);
            for (int y = 0; y < outHeight; y++)
            {
                var top = plane.Slice(rowLow[y] * width, width);
                var bottom = plane.Slice(rowHigh[y] * width, width);
                float wy = rowWeight[y];
                for (int x = 0; x < outWidth; x++)
                {
                    float wx = colWeight[x];
                    output[y * outWidth + x] =
                        (1 - wy) * ((1 - wx) * top[colLow[x]] + wx * top[colHigh[x]]) +
                        wy * ((1 - wx) * bottom[colLow[x]] + wx * bottom[colHigh[x]]);
                }
            }
        }
        return result;
    }

    // LibTorch's source index for align_corners=False: max(scale * (i + 0.5) - 0.5, 0) with scale = in / out, in float.
    static (int[] Low, int[] High, float[] Weight) Taps(int inSize, int outSize)
    {
        float scale = (float)inSize / outSize;
        var low = new int[outSize];
        var high = new int[outSize];
        var weight = new float[outSize];
        for (int i = 0; i < outSize; i++)
        {
            float source = Math.Max(scale * (i + 0.5f) - 0.5f, 0f);
            int index = Math.Min((int)MathF.Floor(source), inSize - 1);
            low[i] = index;
            high[i] = index + (index < inSize - 1 ? 1 : 0);
            weight[i] = Math.Clamp(source - index, 0f, 1f);
        }
        return (low, high, weight);
    }

    /// <summary>The class with the largest value at each pixel of [classes, pixels] planes (the first on ties, as LibTorch's argmax).</summary>
    public static int[] ArgMax(float[] planes, int classes, int pixels)
    {
        var mask = new int[pixels];
        for (int p = 0; p < pixels; p++)
        {
            int best = 0;
            float bestValue = planes[p];
            for (int c = 1; c < classes; c++)
            {
                float value = planes[c * pixels + p];
                if (value > bestValue) (best, bestValue) = (c, value);
            }
            mask[p] = best;
        }
        return mask;
    }

    /// <summary>The softmax over classes at each pixel of [classes, pixels] planes.</summary>
    public static float[] Softmax(float[] planes, int classes, int pixels)
    {
        var result = new float[planes.Length];
        for (int p = 0; p < pixels; p++)
        {
            float max = float.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = Math.Max(max, planes[c * pixels + p]);
            float sum = 0;
            for (int c = 0; c < classes; c++) sum += result[c * pixels + p] = MathF.Exp(planes[c * pixels + p] - max);
            for (int c = 0; c < classes; c++) result[c * pixels + p] /= sum;
        }
        return result;
    }
}
