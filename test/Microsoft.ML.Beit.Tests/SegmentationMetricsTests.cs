using Microsoft.ML.Beit.Segmentation;

namespace Microsoft.ML.Beit.Tests;

/// <summary>mIoU, aAcc and mAcc as mmsegmentation computes them, checked on masks small enough to count by hand.</summary>
[TestClass]
public sealed class SegmentationMetricsTests
{
    // 4x4, three classes. Truth: class 1 in the top two rows, class 2 bottom-left, class 0 bottom-right.
    static readonly int[] Truth =
    [
        1, 1, 1, 1,
        1, 1, 1, 1,
        2, 2, 0, 0,
        2, 2, 0, 0,
    ];

    static readonly int[] Predicted =
    [
        1, 1, 1, 1,
        1, 1, 0, 0,
        2, 2, 2, 2,
        0, 0, 0, 0,
    ];

    // By hand: class 0 truth 4, predicted 6, both 2 -> IoU 2 / (4 + 6 - 2) = 1/4, accuracy 2/4.
    //          class 1 truth 8, predicted 6, both 6 -> IoU 6 / 8 = 3/4, accuracy 6/8.
    //          class 2 truth 4, predicted 4, both 2 -> IoU 2 / 6 = 1/3, accuracy 2/4.
    static void AssertHandCounted(BeitSegmentationMetrics metrics)
    {
        Assert.AreEqual(1.0 / 4, metrics.PerClassIoU[0], 1e-15);
        Assert.AreEqual(3.0 / 4, metrics.PerClassIoU[1], 1e-15);
        Assert.AreEqual(1.0 / 3, metrics.PerClassIoU[2], 1e-15);
        CollectionAssert.AreEqual(new[] { 0.5, 0.75, 0.5 }, metrics.PerClassAccuracy.ToArray());
        Assert.AreEqual((1.0 / 4 + 3.0 / 4 + 1.0 / 3) / 3, metrics.MeanIoU, 1e-15, "mIoU = 4/9");
        Assert.AreEqual(10.0 / 16, metrics.PixelAccuracy, 1e-15, "aAcc: 2 + 6 + 2 of 16");
        Assert.AreEqual(7.0 / 12, metrics.MeanClassAccuracy, 1e-15, "mAcc");
        Assert.AreEqual(16, metrics.LabeledPixels);
        CollectionAssert.AreEqual(new long[] { 2, 0, 2 }, metrics.ConfusionMatrix[0].ToArray(), "truth 0: 2 right, 2 taken for class 2");
        CollectionAssert.AreEqual(new long[] { 2, 6, 0 }, metrics.ConfusionMatrix[1].ToArray());
        CollectionAssert.AreEqual(new long[] { 2, 0, 2 }, metrics.ConfusionMatrix[2].ToArray());
    }

    [TestMethod]
    public void HandMadeMasksGiveTheIoUCountedByHand()
    {
        var confusion = new SegmentationConfusion(3);
        confusion.Add(Predicted, Truth, "hand-made");
        var metrics = confusion.ToMetrics(["background", "top", "left"]);
        Console.WriteLine(metrics);
        AssertHandCounted(metrics);
        Assert.AreEqual(0, metrics.IgnoredPixels);
        StringAssert.StartsWith(metrics.ToString(), "MeanIoU 0.4444\n".ReplaceLineEndings());
        StringAssert.Contains(metrics.ToString(), "IoU.left 0.3333");

        // Metrics sum pixels over the data set: the same pair twice gives the same ratios from twice the counts.
        confusion.Add(Predicted, Truth);
        var twice = confusion.ToMetrics();
        Console.WriteLine($"added twice: mIoU {twice.MeanIoU:F4} over {twice.LabeledPixels} pixels, class names {string.Join(",", twice.ClassNames)}");
        Assert.AreEqual(metrics.MeanIoU, twice.MeanIoU, 1e-15);
        Assert.AreEqual(32, twice.LabeledPixels);
        CollectionAssert.AreEqual(new[] { "0", "1", "2" }, twice.ClassNames.ToArray());
    }

    [TestMethod]
    public void IgnoredPixelsCountInNoMetric()
    {
        // Two extra rows of truth 255, predicted as every class: they must change nothing but IgnoredPixels.
        int[] truth = [.. Truth, .. Enumerable.Repeat(255, 8)];
        int[] predicted = [.. Predicted, 0, 1, 2, 0, 1, 2, 0, 1];
        var confusion = new SegmentationConfusion(3, ignoreIndex: 255);
        confusion.Add(predicted, truth);
        var metrics = confusion.ToMetrics();
        Console.WriteLine($"mIoU {metrics.MeanIoU:F4}, aAcc {metrics.PixelAccuracy:F4}, labelled {metrics.LabeledPixels}, ignored {metrics.IgnoredPixels}");
        AssertHandCounted(metrics);
        Assert.AreEqual(8, metrics.IgnoredPixels);
    }

    [TestMethod]
    public void ReduceLabelsIgnoresZeroAndShiftsTheRestDown()
    {
        // ADE20K's annotations: 0 = other (ignored), v = class v - 1; 255 stays ignored as in mmsegmentation.
        int[] truth = [.. Truth.Select(t => t + 1), 0, 0, 0, 255];
        int[] predicted = [.. Predicted, 2, 1, 0, 2];
        var confusion = new SegmentationConfusion(3, reduceLabels: true);
        confusion.Add(predicted, truth, "ADE_val_00000001.png");
        var metrics = confusion.ToMetrics();
        Console.WriteLine($"reduce-labels: mIoU {metrics.MeanIoU:F4}, labelled {metrics.LabeledPixels}, ignored {metrics.IgnoredPixels}");
        AssertHandCounted(metrics);
        Assert.AreEqual(4, metrics.IgnoredPixels);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => confusion.Add([0], [4], "ADE_val_00000002.png"));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "Truth value 4 (class 3 after reduce-labels)");
    }

    [TestMethod]
    public void AbsentClassesAreNaNAndTheMeansSkipThem()
    {
        // Five classes: 3 is predicted but never true (IoU 0, accuracy NaN), 4 is in neither (both NaN).
        int[] truth = [0, 0, 1, 1, 2, 2];
        int[] predicted = [0, 0, 1, 3, 2, 2];
        var confusion = new SegmentationConfusion(5);
        confusion.Add(predicted, truth, "absent");
        var metrics = confusion.ToMetrics();
        Console.WriteLine(metrics);
        CollectionAssert.AreEqual(new[] { 1.0, 0.5, 1.0, 0.0, double.NaN }, metrics.PerClassIoU.ToArray());
        CollectionAssert.AreEqual(new[] { 1.0, 0.5, 1.0, double.NaN, double.NaN }, metrics.PerClassAccuracy.ToArray());
        Assert.AreEqual(2.5 / 4, metrics.MeanIoU, 1e-15, "mIoU over the four classes with an IoU");
        Assert.AreEqual(2.5 / 3, metrics.MeanClassAccuracy, 1e-15, "mAcc over the three classes with truth pixels");
        Assert.AreEqual(5.0 / 6, metrics.PixelAccuracy, 1e-15);
        StringAssert.Contains(metrics.ToString(), "IoU.4 NaN");

        var empty = new SegmentationConfusion(2).ToMetrics();
        Console.WriteLine($"nothing added: mIoU {empty.MeanIoU}, aAcc {empty.PixelAccuracy}");
        Assert.IsTrue(double.IsNaN(empty.MeanIoU) && double.IsNaN(empty.PixelAccuracy));
    }

    [TestMethod]
    public void ValuesThatAreNotClassesAreNamedWithTheirSource()
    {
        var confusion = new SegmentationConfusion(3);
        var truth = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => confusion.Add([0, 1, 2], [0, 7, 1], "annotations/validation/x.png"));
        Console.WriteLine(truth.Message);
        StringAssert.Contains(truth.Message, "Truth value 7 at pixel 1 of 'annotations/validation/x.png'");
        StringAssert.Contains(truth.Message, "[0, 3)");

        var predicted = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => confusion.Add([0, -1, 2], [0, 1, 1], "y.png"));
        Console.WriteLine(predicted.Message);
        StringAssert.Contains(predicted.Message, "Predicted class -1 at pixel 1 of 'y.png'");

        var length = Assert.ThrowsExactly<ArgumentException>(() => confusion.Add([0, 1], [0, 1, 1], "z.png"));
        Console.WriteLine(length.Message);
        StringAssert.Contains(length.Message, "'z.png': 2 predicted pixels but 3 truth pixels");

        var names = Assert.ThrowsExactly<ArgumentException>(() => confusion.ToMetrics(["a", "b"]));
        Console.WriteLine(names.Message);
        Assert.AreEqual(0, confusion.ToMetrics().LabeledPixels, "rejected maps add nothing");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SegmentationConfusion(3, ignoreIndex: 2));
    }
}
