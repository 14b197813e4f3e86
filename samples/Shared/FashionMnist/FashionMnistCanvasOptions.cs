namespace Beit.SampleData;

/// <summary>Options of <see cref="FashionMnistCanvases.Generate"/>. The defaults make a set small enough for tests and samples.</summary>
internal sealed class FashionMnistCanvasOptions
{
    /// <summary>
    /// The folder of the gzipped IDX files (<c>train-images-idx3-ubyte.gz</c>, <c>train-labels-idx1-ubyte.gz</c> and
    /// their <c>t10k-</c> counterparts), e.g. the repository's samples/data/fashion-mnist. Required.
    /// </summary>
    public string SourceFolder { get; set; } = "";

    /// <summary>The data set folder to write (ADE20K layout); created if missing. Required.</summary>
    public string OutputFolder { get; set; } = "";

    /// <summary>Side of the square canvases, in pixels. Default 64.</summary>
    public int CanvasSize { get; set; } = 64;

    /// <summary>Canvases in images/training, composed from the IDX training items. Default 200.</summary>
    public int TrainingCanvases { get; set; } = 200;

    /// <summary>Canvases in images/validation, composed from the IDX test (t10k) items. Default 50.</summary>
    public int ValidationCanvases { get; set; } = 50;

    /// <summary>Fewest items drawn on one canvas. Default 2.</summary>
    public int MinItemsPerCanvas { get; set; } = 2;

    /// <summary>Most items drawn on one canvas. Default 4.</summary>
    public int MaxItemsPerCanvas { get; set; } = 4;

    /// <summary>Smallest item side, as a multiple of the 28-pixel original (0.6: 17 pixels). Default 0.6.</summary>
    public double MinItemScale { get; set; } = 0.6;

    /// <summary>Largest item side, as a multiple of the 28-pixel original (1.2: 34 pixels); capped at the canvas size. Default 1.2.</summary>
    public double MaxItemScale { get; set; } = 1.2;

    /// <summary>
    /// A pixel belongs to an item where the item's resized intensity exceeds this fraction of full intensity (255);
    /// elsewhere the item leaves the canvas and its label untouched. Default 0.25.
    /// </summary>
    public double Threshold { get; set; } = 0.25;

    /// <summary>
    /// The Fashion-MNIST classes (0 T-shirt/top .. 9 Ankle boot) to draw items from, in the order of their label ids
    /// 1..K. Null or empty: all ten. Default null.
    /// </summary>
    public IReadOnlyList<int>? Classes { get; set; }

    /// <summary>Seed of the placement and item choice; the same options write byte-identical files. Default 1.</summary>
    public int Seed { get; set; } = 1;
}
