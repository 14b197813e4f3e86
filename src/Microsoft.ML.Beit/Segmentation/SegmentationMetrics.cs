using System.Globalization;
using System.Text;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// Semantic segmentation metrics as mmsegmentation (and Hugging Face <c>evaluate</c>'s mean_iou) compute them: from
/// one confusion matrix summed over every labelled pixel of the data set, not averaged per image.
/// </summary>
public sealed class BeitSegmentationMetrics
{
    internal BeitSegmentationMetrics(long[,] confusion, IReadOnlyList<string> classNames, long ignoredPixels)
    {
        int classes = confusion.GetLength(0);
        var iou = new double[classes];
        var accuracy = new double[classes];
        var rows = new IReadOnlyList<long>[classes];
        long correct = 0, labelled = 0;
        for (int c = 0; c < classes; c++)
        {
            long truth = 0, predicted = 0;
            var row = new long[classes];
            for (int other = 0; other < classes; other++)
            {
                row[other] = confusion[c, other];
                truth += confusion[c, other];
                predicted += confusion[other, c];
            }
            rows[c] = Array.AsReadOnly(row);
            long intersection = confusion[c, c], union = truth + predicted - intersection;
            // 0/0 is NaN on purpose: a class absent from truth and prediction says nothing, and the means skip it.
            iou[c] = union == 0 ? double.NaN : (double)intersection / union;
            accuracy[c] = truth == 0 ? double.NaN : (double)intersection / truth;
            correct += intersection;
            labelled += truth;
        }
        PerClassIoU = Array.AsReadOnly(iou);
        PerClassAccuracy = Array.AsReadOnly(accuracy);
        MeanIoU = NanMean(iou);
        MeanClassAccuracy = NanMean(accuracy);
        PixelAccuracy = labelled == 0 ? double.NaN : (double)correct / labelled;
        ConfusionMatrix = Array.AsReadOnly(rows);
        ClassNames = classNames;
        LabeledPixels = labelled;
        IgnoredPixels = ignoredPixels;
    }

    static double NanMean(double[] values)
    {
        var present = values.Where(v => !double.IsNaN(v)).ToArray();
        return present.Length == 0 ? double.NaN : present.Average();
    }

    /// <summary>mIoU: the mean of <see cref="PerClassIoU"/> over the classes where it is defined (not NaN). NaN when no pixel was labelled.</summary>
    public double MeanIoU { get; }

    /// <summary>aAcc: correctly predicted pixels / labelled pixels (ignored pixels count in neither).</summary>
    public double PixelAccuracy { get; }

    /// <summary>mAcc: the mean of <see cref="PerClassAccuracy"/> over the classes with truth pixels.</summary>
    public double MeanClassAccuracy { get; }

    /// <summary>Per class: intersection / union of its truth and predicted pixels; NaN where it has neither, 0 where it was predicted but never true.</summary>
    public IReadOnlyList<double> PerClassIoU { get; }

    /// <summary>Per class: its correctly predicted pixels / its truth pixels (recall); NaN where it has no truth pixels.</summary>
    public IReadOnlyList<double> PerClassAccuracy { get; }

    /// <summary>Class i's name: the names given, or the class ids ("0", "1", ...) when none were.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Pixel counts, <c>ConfusionMatrix[truth][predicted]</c>, over the labelled pixels.</summary>
    public IReadOnlyList<IReadOnlyList<long>> ConfusionMatrix { get; }

    /// <summary>Pixels counted: those whose truth is not the ignore index.</summary>
    public long LabeledPixels { get; }

    /// <summary>Pixels skipped because their truth is the ignore index (after reduce-labels, if on).</summary>
    public long IgnoredPixels { get; }

    /// <summary>One <c>Name value</c> line per metric, then <c>IoU.CLASS</c> and <c>Acc.CLASS</c> lines per class, as mmsegmentation's table names them.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        void Line(string name, double value) => text.Append(name).Append(' ').AppendLine(value.ToString("F4", CultureInfo.InvariantCulture));
        Line(nameof(MeanIoU), MeanIoU);
        Line(nameof(PixelAccuracy), PixelAccuracy);
        Line(nameof(MeanClassAccuracy), MeanClassAccuracy);
        text.AppendLine(CultureInfo.InvariantCulture, $"{nameof(LabeledPixels)} {LabeledPixels}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{nameof(IgnoredPixels)} {IgnoredPixels}");
        for (int c = 0; c < PerClassIoU.Count; c++) Line($"IoU.{ClassNames[c]}", PerClassIoU[c]);
        for (int c = 0; c < PerClassAccuracy.Count; c++) Line($"Acc.{ClassNames[c]}", PerClassAccuracy[c]);
        return text.ToString();
    }
}
