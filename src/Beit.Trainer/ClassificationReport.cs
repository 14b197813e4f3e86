using Microsoft.ML;
using Microsoft.ML.Data;

namespace Beit.Trainer;

/// <summary>Prints multiclass metrics as `Name value` lines, a per-class table and the confusion matrix.</summary>
internal static class ClassificationReport
{
    public static MulticlassClassificationMetrics Evaluate(MLContext ml, IDataView scored) =>
        ml.MulticlassClassification.Evaluate(scored, labelColumnName: "Label", scoreColumnName: "Score", predictedLabelColumnName: "PredictedLabelKey");

    public static void Print(MulticlassClassificationMetrics metrics, IReadOnlyList<string> classes)
    {
        Console.WriteLine($"Accuracy {metrics.MicroAccuracy:F4}");
        Console.WriteLine($"MacroAccuracy {metrics.MacroAccuracy:F4}");
        Console.WriteLine($"MicroAccuracy {metrics.MicroAccuracy:F4}");
        Console.WriteLine($"LogLoss {metrics.LogLoss:F4}");
        var matrix = metrics.ConfusionMatrix;
        Console.WriteLine();
        Console.WriteLine($"{"class",-24} {"precision",9} {"recall",9} {"count",7}");
        for (int i = 0; i < classes.Count && i < matrix.PerClassPrecision.Count; i++)
        {
            long count = (long)matrix.Counts[i].Sum();
            Console.WriteLine($"{classes[i],-24} {matrix.PerClassPrecision[i],9:F4} {matrix.PerClassRecall[i],9:F4} {count,7}");
        }
        Console.WriteLine();
        Console.WriteLine(matrix.GetFormattedConfusionTable());
    }
}
