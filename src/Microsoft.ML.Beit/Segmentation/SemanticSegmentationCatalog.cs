using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit;

/// <summary>
/// Semantic segmentation on ML.NET, shaped like its task catalogs: <c>mlContext.SemanticSegmentation().Trainers.Beit(...)</c>
/// and <c>mlContext.SemanticSegmentation().Evaluate(...)</c>. Get it with <see cref="BeitCatalog.SemanticSegmentation(MLContext)"/>.
/// </summary>
public sealed class SemanticSegmentationCatalog
{
    readonly IHostEnvironment _env;

    internal SemanticSegmentationCatalog(IHostEnvironment env)
    {
        _env = env;
        Trainers = new SemanticSegmentationTrainers(env);
    }

    /// <summary>The segmentation trainers.</summary>
    public SemanticSegmentationTrainers Trainers { get; }

    /// <summary>
    /// Compares predicted masks with label maps: mIoU, pixel accuracy, mean class accuracy and per-class IoU, skipping
    /// pixels labelled <paramref name="ignoreIndex"/>. The class names come from the mask column's annotations (a BEiT
    /// segmentation model adds them) or from <paramref name="classNames"/>.
    /// </summary>
    /// <param name="data">Scored data holding the label maps and the predicted masks.</param>
    /// <param name="labelColumnName">Label maps: an image or a PNG path whose gray values are class ids.</param>
    /// <param name="predictedMaskColumnName">The predicted masks (UInt32 class ids per pixel).</param>
    /// <param name="classNames">Class names by id, when the mask column does not carry them.</param>
    /// <param name="ignoreIndex">The label value that is not scored. Default 255.</param>
    /// <param name="reduceLabels">ADE20K convention: label 0 is ignored and the others drop by one. Default false.</param>
    public BeitSegmentationMetrics Evaluate(IDataView data, string labelColumnName = "Label", string predictedMaskColumnName = "PredictedMask",
        IReadOnlyList<string>? classNames = null, int ignoreIndex = 255, bool reduceLabels = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        var names = classNames ?? ClassNamesOf(data.Schema, predictedMaskColumnName)
            ?? throw new ArgumentException($"Column '{predictedMaskColumnName}' carries no class names; pass classNames.", nameof(classNames));
        return BeitSegmentationEvaluation.Evaluate(data, labelColumnName, predictedMaskColumnName, names, ignoreIndex, reduceLabels);
    }

    static IReadOnlyList<string>? ClassNamesOf(DataViewSchema schema, string column)
    {
        if (schema.GetColumnOrNull(column) is not { } mask) return null;
        if (mask.Annotations.Schema.GetColumnOrNull(BeitSemanticSegmentationTransformer.ClassNamesAnnotation) is null) return null;
        VBuffer<ReadOnlyMemory<char>> names = default;
        mask.Annotations.GetValue(BeitSemanticSegmentationTransformer.ClassNamesAnnotation, ref names);
        return names.DenseValues().Select(n => n.ToString()).ToList();
    }

    /// <summary>The segmentation trainers of <see cref="SemanticSegmentationCatalog"/>.</summary>
    public sealed class SemanticSegmentationTrainers
    {
        readonly IHostEnvironment _env;

        internal SemanticSegmentationTrainers(IHostEnvironment env) => _env = env;

        /// <summary>
        /// BEiT with UperNet: reads an image column and a label-map column (an image or a PNG path whose gray values are
        /// class ids); the trained model adds <c>PredictedMask</c>. See <see cref="BeitSegmentationOptions"/> for the recipe.
        /// </summary>
        public BeitSegmentationTrainer Beit(BeitSegmentationOptions options) => new(_env, options);
    }
}
