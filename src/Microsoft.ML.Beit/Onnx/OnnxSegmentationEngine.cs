using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>
/// The segmenter on ONNX Runtime. The graph returns each window's logits already upsampled to the crop (<c>upsampled_logits</c>);
/// averaging the windows, resizing to the image and the argmax run in managed code, as <see cref="BeitSegmentationEngine"/> runs
/// them in LibTorch.
/// </summary>
internal sealed class OnnxSegmentationEngine : IBeitSegmentationEngine
{
    public OnnxSegmentationEngine(BeitOnnxSession session, BeitConfig config, BeitPreprocessorConfig preprocessor, int cropSize, int batchSize)
    {
        if (cropSize != config.ImageSize)
            throw new ArgumentException($"The crop size {cropSize} must equal the model's image size {config.ImageSize} (its relative position tables fit one grid).");
        Session = session;
        Config = config;
        Processor = new BeitImageProcessor(preprocessor);
        CropSize = cropSize;
        BatchSize = batchSize;
    }

    /// <summary>Exports the TorchSharp segmenter (with upsampled logits) and opens it in ONNX Runtime.</summary>
    public static OnnxSegmentationEngine From(BeitSegmentationEngine engine, string device, int? threads, BeitOnnxQuantization quantization)
    {
        var graph = BeitOnnxExporter.Build(engine.Model, new BeitOnnxExportOptions { IncludeUpsampledLogits = true, Preprocessor = engine.Processor.Config, Quantization = quantization });
        var session = BeitOnnxSession.FromGraph(graph, device, threads);
        return new OnnxSegmentationEngine(session, engine.Config.Clone(), engine.Processor.Config, engine.CropSize, engine.BatchSize);
    }

    public BeitOnnxSession Session { get; }
    public BeitConfig Config { get; }
    public BeitImageProcessor Processor { get; }
    public int CropSize { get; }
    public string DeviceName => Session.DeviceName;
    public int BatchSize { get; }
    int Classes => Config.NumLabels;

    public IReadOnlyList<SegmentationPrediction> Predict(IReadOnlyList<RgbImage> images, bool withProbabilities = false)
    {
        int crop = CropSize, classes = Classes, windowPixels = crop * crop;
        var inputs = images.Select(image => SlidingWindows.Prepare(image, crop, Processor)).ToList();
        var windows = inputs.SelectMany((input, i) => SlidingWindows.Of(input.Height, input.Width, crop).Select(w => (Image: i, w.Top, w.Left))).ToList();
        var sums = inputs.Select(input => new float[classes * input.Height * input.Width]).ToList();
        var counts = inputs.Select(input => new int[input.Height * input.Width]).ToList();
        foreach (var chunk in windows.Chunk(Math.Max(1, BatchSize)))
        {
            var pixels = new float[chunk.Length * 3 * windowPixels];
            for (int i = 0; i < chunk.Length; i++)
            {
                var (image, top, left) = chunk[i];
                var input = inputs[image];
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < crop; y++)
                        input.Pixels.AsSpan((c * input.Height + top + y) * input.Width + left, crop)
                            .CopyTo(pixels.AsSpan(((i * 3 + c) * crop + y) * crop, crop));
            }
            var logits = Session.Run(pixels, chunk.Length, 3, crop, crop, BeitOnnxExporter.UpsampledLogits)[0];
            for (int i = 0; i < chunk.Length; i++)
            {
                var (image, top, left) = chunk[i];
                var (_, height, width) = inputs[image];
                var sum = sums[image];
                for (int c = 0; c < classes; c++)
                    for (int y = 0; y < crop; y++)
                    {
                        var source = logits.AsSpan(((i * classes + c) * crop + y) * crop, crop);
                        var target = sum.AsSpan((c * height + top + y) * width + left, crop);
                        for (int x = 0; x < crop; x++) target[x] += source[x];
                    }
                var count = counts[image];
                for (int y = 0; y < crop; y++)
                    for (int x = 0; x < crop; x++) count[(top + y) * width + left + x]++;
            }
        }
        var predictions = new List<SegmentationPrediction>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            var (_, height, width) = inputs[i];
            var average = sums[i];
            var count = counts[i];
            for (int c = 0; c < classes; c++)
                for (int p = 0; p < count.Length; p++) average[c * count.Length + p] /= count[p];
            int pixels = images[i].Width * images[i].Height;
            var logits = BilinearPlanes.Resize(average, classes, height, width, images[i].Height, images[i].Width);
            predictions.Add(new SegmentationPrediction(images[i].Width, images[i].Height, BilinearPlanes.ArgMax(logits, classes, pixels),
                withProbabilities ? BilinearPlanes.Softmax(logits, classes, pixels) : null));
        }
        return predictions;
    }

    public void Dispose() => Session.Dispose();
}
