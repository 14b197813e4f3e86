using Microsoft.ML.Beit.Segmentation;

namespace Beit.SampleData;

/// <summary>What <see cref="FashionMnistCanvases.Generate"/> wrote.</summary>
/// <param name="Root">The data set folder, readable with <see cref="SegmentationFolder.Read"/> (splits <c>training</c> and <c>validation</c>).</param>
/// <param name="ClassNames">Label id i's name: "background" for 0, then the chosen Fashion-MNIST classes; also in root/classes.txt.</param>
/// <param name="TrainingCanvases">Image and label-map pairs in the training split.</param>
/// <param name="ValidationCanvases">Image and label-map pairs in the validation split.</param>
/// <param name="CanvasSize">Side of every canvas, in pixels.</param>
internal sealed record FashionMnistCanvasSet(string Root, IReadOnlyList<string> ClassNames, int TrainingCanvases, int ValidationCanvases, int CanvasSize);
