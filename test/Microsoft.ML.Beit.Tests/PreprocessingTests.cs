using Microsoft.ML.Beit.Preprocessing;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Preprocessing reproduces Pillow (../shared/reference/preprocess): the resized bytes exactly, the normalised values to float rounding.</summary>
[TestClass]
public sealed class PreprocessingTests
{
    // Measured against Pillow 9.4.0 (PNG and JPEG, bilinear and bicubic): every resized byte equal, so the normalised
    // values differ only by float rounding of (x / 255 - 0.5) / 0.5: max 1.19e-7 (one float step near 1), mean 2.1e-8.
    // The bounds sit just above that; one byte off anywhere moves a value by 2/255 = 7.8e-3 and fails the max.
    const double MaxTolerance = 2.5e-7, MeanTolerance = 5e-8;

    [TestMethod]
    [DataRow("image.png", BeitResample.Bilinear, "pixel_values_bilinear")]
    [DataRow("image.png", BeitResample.Bicubic, "pixel_values_bicubic")]
    [DataRow("image.jpg", BeitResample.Bilinear, "pixel_values_bilinear_from_jpg")]
    public void MatchesPillowWithinTolerance(string file, BeitResample resample, string expectedName)
    {
        const double maxTolerance = MaxTolerance, meanTolerance = MeanTolerance;
        var expected = ReferenceData.Expected("preprocess");
        try
        {
            var processor = new BeitImageProcessor(new BeitPreprocessorConfig { Resample = resample });
            using var pixels = processor.ProcessBatch([RgbImage.Load(Path.Combine(ReferenceData.Case("preprocess"), file))]);
            CollectionAssert.AreEqual(expected[expectedName].shape, pixels.shape);
            using var difference = (pixels - expected[expectedName]).abs();
            double max = difference.max().item<float>(), mean = difference.mean().item<float>();
            Console.WriteLine($"{file} {resample}: max abs diff {max:E2}, mean abs diff {mean:E2} (tolerance {maxTolerance} / {meanTolerance})");
            Assert.IsLessThanOrEqualTo(maxTolerance, max);
            Assert.IsLessThanOrEqualTo(meanTolerance, mean);
        }
        finally
        {
            foreach (var t in expected.Values) t.Dispose();
        }
    }

    [TestMethod]
    [DataRow(BeitResample.Bilinear, "resized_uint8_bilinear")]
    [DataRow(BeitResample.Bicubic, "resized_uint8_bicubic")]
    public void ResizedBytesEqualPillows(BeitResample resample, string expectedName)
    {
        var expected = ReferenceData.Expected("preprocess");
        try
        {
            var processor = new BeitImageProcessor(new BeitPreprocessorConfig { Resample = resample });
            var resized = processor.ResizeAndCrop(RgbImage.Load(Path.Combine(ReferenceData.Case("preprocess"), "image.png")));
            var reference = expected[expectedName].data<byte>().ToArray();
            Assert.AreEqual(reference.Length, resized.Pixels.Length, "as many bytes as Pillow's 224x224 RGB");
            int differing = resized.Pixels.Zip(reference).Count(p => p.First != p.Second);
            int worst = resized.Pixels.Zip(reference).Max(p => Math.Abs(p.First - p.Second));
            Console.WriteLine($"{resample}: {differing} of {reference.Length} bytes differ from Pillow, by at most {worst}");
            // The same fixed-point arithmetic as Pillow's: byte for byte (measured: 0 bytes differ).
            Assert.AreEqual(0, differing, $"{differing} bytes differ from Pillow, by at most {worst}");
        }
        finally
        {
            foreach (var t in expected.Values) t.Dispose();
        }
    }

    [TestMethod]
    public void ReadsBothPreprocessorConfigFormsAndCropsAtTheCentre()
    {
        var legacy = BeitPreprocessorConfig.FromJson("""
            {"feature_extractor_type": "BeitFeatureExtractor", "do_resize": true, "size": 224, "resample": 2,
             "do_center_crop": false, "crop_size": 224, "do_normalize": true, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
            """);
        Assert.AreEqual((224, 224), legacy.OutputSize);
        Assert.AreEqual(BeitResample.Bilinear, legacy.Resample);

        var current = BeitPreprocessorConfig.FromJson("""
            {"image_processor_type": "BeitImageProcessor", "size": {"height": 40, "width": 50}, "resample": 3,
             "do_center_crop": true, "crop_size": {"height": 32, "width": 32}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
            """);
        Assert.AreEqual((32, 32), current.OutputSize);
        var pixels = new byte[60 * 45 * 3];
        new Random(2).NextBytes(pixels);
        var image = new RgbImage(60, 45, pixels);
        var processed = new BeitImageProcessor(current).ResizeAndCrop(image);
        var resized = new BeitImageProcessor(new BeitPreprocessorConfig { ResizeHeight = 40, ResizeWidth = 50, Resample = BeitResample.Bicubic }).ResizeAndCrop(image);
        CollectionAssert.AreEqual(resized.Crop(9, 4, 32, 32).Pixels, processed.Pixels, "center crop: left (50-32)/2, top (40-32)/2");
        var values = new BeitImageProcessor(current).Process(image);
        Assert.AreEqual((processed.Pixels[0] / 255f - 0.485f) / 0.229f, values[0], 1e-5, "ImageNet mean/std normalisation, channels first");

        var shortest = BeitPreprocessorConfig.FromJson("""{"size": {"shortest_edge": 30}, "do_center_crop": false}""");
        Assert.IsNull(shortest.OutputSize, "a shortest-edge resize without a crop has no fixed size");
        Assert.AreEqual((30, 40), (new BeitImageProcessor(shortest).ResizeAndCrop(image).Height, new BeitImageProcessor(shortest).ResizeAndCrop(image).Width));

        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => BeitPreprocessorConfig.FromJson("""{"resample": 0}""")).Message, "resample 0");
    }
}
