using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>Accumulates segmentation metrics from a trained engine or from scored data.</summary>
internal static class BeitSegmentationEvaluation
{
    /// <summary>Runs the engine on every row of <paramref name="data"/> and compares with its label maps (validation during training).</summary>
    public static BeitSegmentationMetrics Evaluate(IBeitSegmentationEngine engine, SegmentedImageReader reader, IDataView data,
        int ignoreIndex, bool reduceLabels, int batchSize)
    {
        var confusion = new SegmentationConfusion(engine.Classes, ignoreIndex, reduceLabels);
        foreach (var (samples, firstRow) in reader.Batches(data, batchSize, 0))
        {
            var predictions = engine.Predict(samples.Select(s => s.Image).ToList());
            for (int i = 0; i < samples.Count; i++)
                confusion.Add(predictions[i].Mask, samples[i].Labels.Select(l => (int)l).ToArray(), $"row {firstRow + i} of the validation set");
        }
        return confusion.ToMetrics(engine.ClassNames);
    }

    /// <summary>Compares the predicted-mask column of scored data with its label-map column.</summary>
    public static BeitSegmentationMetrics Evaluate(IDataView scored, string labelColumnName, string predictedMaskColumnName,
        IReadOnlyList<string> classNames, int ignoreIndex, bool reduceLabels)
    {
        var label = scored.Schema.GetColumnOrNull(labelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(labelColumnName), $"Label-map column '{labelColumnName}' is not in the data (columns: {string.Join(", ", scored.Schema.Select(c => c.Name))}).");
        if (!ImageColumn.IsSupported(label.Type))
            throw new ArgumentOutOfRangeException(nameof(labelColumnName), $"Label-map column '{labelColumnName}' is {label.Type}; it must be {ImageColumn.Kinds}.");
        var mask = scored.Schema.GetColumnOrNull(predictedMaskColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(predictedMaskColumnName), $"Predicted-mask column '{predictedMaskColumnName}' is not in the data; score it with a BEiT segmentation model first.");
        if (mask.Type is not VectorDataViewType { ItemType: var item } || item != NumberDataViewType.UInt32)
            throw new ArgumentOutOfRangeException(nameof(predictedMaskColumnName), $"Predicted-mask column '{predictedMaskColumnName}' is {mask.Type}, not a vector of UInt32 class ids.");
        var confusion = new SegmentationConfusion(classNames.Count, ignoreIndex, reduceLabels);
        using var cursor = scored.GetRowCursor([label, mask]);
        var readLabels = LabelMapColumn.Reader(cursor, label);
        var getMask = cursor.GetGetter<VBuffer<uint>>(mask);
        VBuffer<uint> predicted = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            string where = $"row {row++} (columns '{labelColumnName}', '{predictedMaskColumnName}')";
            getMask(ref predicted);
            var (labels, width, height) = readLabels(where);
            var values = predicted.DenseValues().Select(v => (int)v).ToArray();
            if (values.Length == 0) throw new InvalidOperationException($"{where}: there is no predicted mask (the image could not be read).");
            if (values.Length != width * height)
                throw new InvalidDataException($"{where}: the label map is {width}x{height} ({width * height} pixels) " +
                    $"but the predicted mask has {values.Length} pixels; label maps must be the size of their images.");
            confusion.Add(values, labels.Select(l => (int)l).ToArray(), where);
        }
        return confusion.ToMetrics(classNames);
    }
}
