using Microsoft.ML.Beit.Preprocessing;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Preprocessing reproduces Pillow (../shared/reference/preprocess) within its tolerance.</summary>
[TestClass]
public sealed class PreprocessingTests
{
    [TestMethod]
    [DataRow("image.png", BeitResample.Bilinear, "pixel_values_bilinear", 0.008, 0.003)]
    [DataRow("image.png", BeitResample.Bicubic, "pixel_values_bicubic", 0.008, 0.003)]
    [DataRow("image.jpg", BeitResample.Bilinear, "pixel_values_bilinear_from_jpg", 0.05, 0.01)]
    public void MatchesPillowWithinTolerance(string file, BeitResample resample, string expectedName, double maxTolerance, double meanTolerance)
    {
        var expected = ReferenceData.Expected("preprocess");
        try
        {
            var processor = new BeitImageProcessor(new BeitPreprocessorConfig { Resample = resample });
            using var pixels = processor.ProcessBatch([RgbImage.Load(Path.Combine(ReferenceData.Case("preprocess"), file))]);
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
            int differing = resized.Pixels.Zip(reference).Count(p => p.First != p.Second);
            int worst = resized.Pixels.Zip(reference).Max(p => Math.Abs(p.First - p.Second));
            Console.WriteLine($"{resample}: {differing} of {reference.Length} bytes differ from Pillow, by at most {worst}");
            Assert.IsLessThanOrEqualTo(1, worst);
        }
        finally
        {
            foreach (var t in expected.Values) t.Dispose();
        }
    }
}
