namespace Microsoft.ML.Beit.Segmentation;

/// <summary>
/// Accumulates a truth x predicted pixel confusion matrix over many label maps, for <see cref="BeitSegmentationMetrics"/>.
/// </summary>
/// <remarks>
/// <c>reduceLabels</c> is ADE20K's convention (mmsegmentation <c>reduce_zero_label</c>, Hugging Face
/// <c>do_reduce_labels</c>): annotation value 0 ("other objects") is ignored and value v &gt; 0 is class v - 1.
/// As in mmsegmentation, a value that already equals the ignore index stays ignored rather than becoming a class.
/// </remarks>
internal sealed class SegmentationConfusion
{
    readonly long[,] counts;
    readonly int classes, ignoreIndex;
    readonly bool reduceLabels;
    long ignored;

    /// <summary>An empty matrix for <paramref name="numClasses"/> predicted classes.</summary>
    /// <param name="numClasses">Classes the model predicts (150 for ADE20K with reduce-labels).</param>
    /// <param name="ignoreIndex">Truth value of unlabelled pixels, which no metric counts. Default 255.</param>
    /// <param name="reduceLabels">Treat truth 0 as ignored and shift every other truth value down by one. Default false.</param>
    public SegmentationConfusion(int numClasses, int ignoreIndex = 255, bool reduceLabels = false)
    {
        if (numClasses < 1)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "A segmentation needs at least one class.");
        if (ignoreIndex >= 0 && ignoreIndex < numClasses)
            throw new ArgumentOutOfRangeException(nameof(ignoreIndex), ignoreIndex, $"The ignore index {ignoreIndex} is one of the {numClasses} classes [0, {numClasses}); choose a value outside them (255 by convention).");
        classes = numClasses;
        this.ignoreIndex = ignoreIndex;
        this.reduceLabels = reduceLabels;
        counts = new long[numClasses, numClasses];
    }

    /// <summary>Counts one label map's pixels.</summary>
    /// <param name="predicted">Predicted class per pixel, each in [0, numClasses).</param>
    /// <param name="truth">Annotated value per pixel: a class, the ignore index, or (with reduce-labels) 0 = ignored and v = class v - 1.</param>
    /// <param name="source">What to call the map in errors (its file, or an image index).</param>
    /// <exception cref="ArgumentException">The two maps have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A truth or predicted value is not a class (nor ignored); the message names the value, pixel and source.</exception>
    public void Add(ReadOnlySpan<int> predicted, ReadOnlySpan<int> truth, string? source = null)
    {
        string where = source is null ? "the label map" : $"'{source}'";
        if (predicted.Length != truth.Length)
            throw new ArgumentException($"{where}: {predicted.Length} predicted pixels but {truth.Length} truth pixels; a prediction must cover its label map exactly (resize it to the label map's size first).", nameof(predicted));
        // Validate the whole map before counting any of it, so a rejected map leaves the totals as they were.
        for (int p = 0; p < truth.Length; p++)
        {
            int t = Reduce(truth[p]);
            if (t != ignoreIndex && (uint)t >= (uint)classes)
            {
                string value = reduceLabels ? $"{truth[p]} (class {t} after reduce-labels)" : $"{truth[p]}";
                throw new ArgumentOutOfRangeException(nameof(truth), truth[p],
                    $"Truth value {value} at pixel {p} of {where} is not a class id in [0, {classes}) nor the ignore index {ignoreIndex}. " +
                    "Check the number of classes, the ignore index and whether the annotations need reduce-labels (ADE20K: 0 = other, 1..150 = classes).");
            }
            if ((uint)predicted[p] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(predicted), predicted[p],
                    $"Predicted class {predicted[p]} at pixel {p} of {where} is outside [0, {classes}); the model and the metric disagree on the number of classes.");
        }
        for (int p = 0; p < truth.Length; p++)
        {
            int t = Reduce(truth[p]);
            if (t == ignoreIndex) ignored++;
            else counts[t, predicted[p]]++;
        }
    }

    int Reduce(int value)
    {
        if (!reduceLabels || value == ignoreIndex) return value;
        return value == 0 ? ignoreIndex : value - 1;
    }

    /// <summary>The metrics of everything added so far.</summary>
    /// <param name="classNames">Class i's name, one per class; null names them by id.</param>
    public BeitSegmentationMetrics ToMetrics(IReadOnlyList<string>? classNames = null)
    {
        if (classNames is not null && classNames.Count != classes)
            throw new ArgumentException($"{classNames.Count} class names given for {classes} classes; give one name per predicted class.", nameof(classNames));
        var names = classNames ?? Enumerable.Range(0, classes).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new BeitSegmentationMetrics((long[,])counts.Clone(), names.ToArray(), ignored);
    }
}
