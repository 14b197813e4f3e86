using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.Beit.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Sliding-window inference and the poly schedule of the segmentation recipe.</summary>
[TestClass]
public sealed class SegmentationInferenceTests
{
    static BeitSegmentationEngine TinyEngine()
    {
        manual_seed(3);
        var model = TinyModels.Randomize(new BeitForSemanticSegmentation(TinyModels.SegmentationConfig(classes: 3)));
        return new BeitSegmentationEngine(model, BeitPreprocessorConfig.Pt22k(32), cropSize: 32, device: "cpu", batchSize: 4);
    }

    static RgbImage Noise(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    [TestMethod]
    public void ACropSizedImageIsOneForwardPassUpsampled()
    {
        using var engine = TinyEngine();
        var image = Noise(32, 32, 1);
        var mask = engine.Predict([image])[0].Mask;
        using var noGrad = no_grad();
        using var pixels = engine.Processor.ProcessBatch([image]);
        using var output = engine.Model.forward(pixels);
        using var upsampled = nn.functional.interpolate(output.Logits, [32, 32], mode: InterpolationMode.Bilinear, align_corners: false);
        using var direct = upsampled.argmax(1).flatten().to(ScalarType.Int32);
        var expected = direct.data<int>().ToArray();
        int differing = mask.Where((v, i) => v != expected[i]).Count();
        Console.WriteLine($"classes predicted: {string.Join(", ", mask.Distinct().Order())}; {differing} of {mask.Length} pixels differ from one direct pass");
        Assert.AreEqual(0, differing);
    }

    [TestMethod]
    public void LargerAndNonSquareImagesGetAMaskOfTheirOwnSize()
    {
        using var engine = TinyEngine();
        var images = new[] { Noise(70, 45, 2), Noise(32, 96, 3), Noise(20, 20, 4) };
        var predictions = engine.Predict(images, withProbabilities: true);
        for (int i = 0; i < images.Length; i++)
        {
            var p = predictions[i];
            Console.WriteLine($"{images[i].Width}x{images[i].Height}: mask {p.Width}x{p.Height}, {p.Mask.Length} ids, {p.Probabilities!.Length} probabilities");
            Assert.AreEqual(images[i].Width * images[i].Height, p.Mask.Length);
            Assert.AreEqual(3 * p.Mask.Length, p.Probabilities.Length);
            Assert.IsTrue(p.Mask.All(v => v is >= 0 and < 3));
            // Probabilities sum to one at every pixel.
            int plane = p.Mask.Length;
            for (int px = 0; px < plane; px += 97)
                Assert.AreEqual(1.0, p.Probabilities[px] + p.Probabilities[plane + px] + p.Probabilities[2 * plane + px], 1e-4);
        }
    }

    [TestMethod]
    public void PolyScheduleWarmsUpThenDecaysLinearlyToTheFloor()
    {
        var schedule = new PolySchedule(1e-3, 0, totalIterations: 100, warmupIterations: 10);
        Console.WriteLine(string.Join(" ", new[] { 0, 5, 10, 50, 99, 100 }.Select(i => $"{i}:{schedule[i]:E3}")));
        Assert.AreEqual(1e-3 * 1e-6, schedule[0], 1e-15);
        // Warmup scales the poly value: at step 5 by 1 - (1 - 5/10)(1 - 1e-6).
        Assert.AreEqual(1e-3 * 0.95 * (1 - 0.5 * (1 - 1e-6)), schedule[5], 1e-12);
        Assert.AreEqual(1e-3 * 0.9, schedule[10], 1e-12);
        Assert.AreEqual(1e-3 * 0.5, schedule[50], 1e-12);
        Assert.AreEqual(0, schedule[100]);
    }
}
