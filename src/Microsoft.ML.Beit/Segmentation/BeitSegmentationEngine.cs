using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Segmentation;

/// <summary>A segmentation prediction at the input image's resolution.</summary>
/// <param name="Width">Image width.</param>
/// <param name="Height">Image height.</param>
/// <param name="Mask">Class id per pixel, row-major.</param>
/// <param name="Probabilities">Per-class probabilities, [classes, H, W] row-major, when asked for.</param>
internal sealed record SegmentationPrediction(int Width, int Height, int[] Mask, float[]? Probabilities);

/// <summary>
/// A trained segmenter without ML.NET: the model, its preprocessing, classes and crop size; images in, masks out.
/// Inference follows mmseg's <c>slide</c> mode: the image is resized so its short side is the crop size, windows of the
/// crop size with a stride of two thirds of it cover the image, their upsampled logits are averaged, and the average
/// is resized back to the image's own size before the argmax.
/// </summary>
internal sealed class BeitSegmentationEngine : IBeitSegmentationEngine
{
    readonly object _forwardGate = new();

    readonly Device _device;

    public BeitSegmentationEngine(BeitForSemanticSegmentation model, BeitPreprocessorConfig preprocessor, int cropSize, string device, int batchSize)
    {
        if (cropSize != model.Config.ImageSize)
            throw new ArgumentException($"The crop size {cropSize} must equal the model's image size {model.Config.ImageSize} (its relative position tables fit one grid).");
        Model = model;
        Processor = new BeitImageProcessor(preprocessor);
        CropSize = cropSize;
        DeviceName = device;
        BatchSize = batchSize;
        _device = BeitDevice.Resolve(device);
        Model.to(_device);
        Model.eval();
    }

    public BeitForSemanticSegmentation Model { get; }
    public BeitImageProcessor Processor { get; }
    public int CropSize { get; }
    public string DeviceName { get; }
    public int BatchSize { get; }
    public BeitConfig Config => Model.Config;
    int Classes => Config.NumLabels;

    /// <summary>Masks (and probabilities on request) for each image; windows of all images share forward passes.</summary>
    public IReadOnlyList<SegmentationPrediction> Predict(IReadOnlyList<RgbImage> images, bool withProbabilities = false)
    {
        // One forward pass at a time per model: PredictionEngines on several threads share it, and concurrent
        // LibTorch calls on one module crashed the process (see ConcurrencyTests).
        lock (_forwardGate) return PredictUnlocked(images, withProbabilities);
    }

    IReadOnlyList<SegmentationPrediction> PredictUnlocked(IReadOnlyList<RgbImage> images, bool withProbabilities = false)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Model.eval();
        var inputs = images.Select(Prepare).ToList();
        var windows = inputs.SelectMany((input, i) => SlidingWindows.Of(input.Height, input.Width, CropSize).Select(w => (Image: i, w.Top, w.Left))).ToList();
        var sums = inputs.Select(input => zeros([Classes, input.Height, input.Width], device: _device)).ToList();
        var counts = inputs.Select(input => zeros([1, input.Height, input.Width], device: _device)).ToList();
        long crop = CropSize;
        using var one = 1.ToScalar();   // kept alive across the native calls (see ScalarOps)
        foreach (var chunk in windows.Chunk(Math.Max(1, BatchSize)))
        {
            using var batchScope = NewDisposeScope();
            var batch = stack(chunk.Select(w => inputs[w.Image].Pixels.narrow(1, w.Top, crop).narrow(2, w.Left, crop)).ToArray());
            using var output = Model.forward(batch);
            var logits = SegmentationResize.Bilinear(output.Logits, [crop, crop]);
            for (int i = 0; i < chunk.Length; i++)
            {
                var (image, top, left) = chunk[i];
                sums[image].narrow(1, top, crop).narrow(2, left, crop).add_(logits[i], one);
                counts[image].narrow(1, top, crop).narrow(2, left, crop).add_(one);
            }
        }
        var predictions = new List<SegmentationPrediction>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            var logits = (sums[i] / counts[i]).unsqueeze(0);
            logits = SegmentationResize.Bilinear(logits, [images[i].Height, images[i].Width]).squeeze(0);
            var mask = logits.argmax(0).to(ScalarType.Int32).cpu().contiguous().data<int>().ToArray();
            var probabilities = withProbabilities ? logits.softmax(0).to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray() : null;
            predictions.Add(new SegmentationPrediction(images[i].Width, images[i].Height, mask, probabilities));
        }
        return predictions;
    }

    /// <summary>The image prepared for the windows (<see cref="SlidingWindows.Prepare"/>), [3, H, W] on the device.</summary>
    (Tensor Pixels, int Height, int Width) Prepare(RgbImage image)
    {
        var (values, height, width) = SlidingWindows.Prepare(image, CropSize, Processor);
        return (tensor(values, [3, height, width], device: _device), height, width);
    }

    public void Dispose() => Model.Dispose();
}
