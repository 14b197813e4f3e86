using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Tests;

/// <summary><c>beit preprocess</c> and <c>beit attention</c> in their own process, against the library in this one.</summary>
[TestClass]
public sealed class ToolVerbTests
{
    [TestMethod]
    [DataRow("bilinear", "pixel_values_bilinear")]
    [DataRow("bicubic", "pixel_values_bicubic")]
    public void PreprocessWritesThePixelValuesPillowGives(string resample, string expectedName)
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string output = Path.Combine(folder, "pixels.safetensors");
            var (code, stdout, error) = BeitToolTests.Beit("preprocess", "--image", Path.Combine(ReferenceData.Case("preprocess"), "image.png"),
                "--resample", resample, "--output", output);
            Assert.AreEqual(0, code, error + stdout);
            var written = SafetensorsFile.Read(output);
            var expected = ReferenceData.Expected("preprocess");
            try
            {
                double diff = ReferenceData.MaxAbsDiff(written["pixel_values"], expected[expectedName]);
                Console.WriteLine($"beit preprocess --resample {resample}: max abs diff from Pillow {diff:E2}");
                // As PreprocessingTests: equal bytes after resizing, float rounding after normalising (measured 1.2e-7).
                Assert.IsLessThanOrEqualTo(2.5e-7, diff);
            }
            finally
            {
                foreach (var t in written.Values.Concat(expected.Values)) t.Dispose();
            }

            // A filter Pillow has but the preprocessing does not is refused while parsing, with the filters there are.
            (code, _, error) = BeitToolTests.Beit("preprocess", "--image", Path.Combine(ReferenceData.Case("preprocess"), "image.png"),
                "--resample", "nearest", "--output", output);
            Assert.AreEqual(2, code, error);
            StringAssert.Contains(error, "--resample 'nearest' is not valid: use one of lanczos, bilinear, bicubic, box, hamming");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void AttentionWritesTheHeatmapOfTheChosenLayerAndHead()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string model = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            string image = FeaturizerTests.WriteRandomImages(folder, count: 1, width: 40, height: 30)[0];
            string head0 = Path.Combine(folder, "head0.png"), mean = Path.Combine(folder, "mean.png"), expected = Path.Combine(folder, "expected.png");
            var (code, stdout, error) = BeitToolTests.Beit("attention", "--model", model, "--image", image, "--layer", "1", "--head", "0", "--output", head0);
            Console.WriteLine(stdout);
            Assert.AreEqual(0, code, error + stdout);
            StringAssert.Contains(stdout, "head 0 written to");
            (code, stdout, error) = BeitToolTests.Beit("attention", "--model", model, "--image", image, "--layer", "1", "--output", mean);
            Assert.AreEqual(0, code, error + stdout);
            StringAssert.Contains(stdout, "mean over heads");

            // The same map computed here, through the library: the tool's PNG must be the same file.
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable([new FeaturizerTests.ImagePath { Path = image }]);
            using var featurizer = ml.Transforms.BeitFeaturize("Attention", "Path", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromPath(model), Pooling = BeitPooling.ClsAttention, Layer = 1, BatchSize = 1,
            }).Fit(data);
            var attention = ml.Data.CreateEnumerable<AttentionRow>(featurizer.Transform(data), false).Single().Attention;
            BeitAttentionMaps.WritePng(expected, RgbImage.Load(image), BeitAttentionMaps.Head(attention, featurizer.ModelConfig.NumAttentionHeads, 0));
            CollectionAssert.AreEqual(File.ReadAllBytes(expected), File.ReadAllBytes(head0), "the tool's heatmap of layer 1, head 0");
            CollectionAssert.AreNotEqual(File.ReadAllBytes(head0), File.ReadAllBytes(mean), "--head changes the map");
            var written = RgbImage.Load(head0);
            Assert.AreEqual((40, 30), (written.Width, written.Height), "the heatmap lies over the image, at its size");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Heads x patches.</summary>
    public sealed class AttentionRow
    {
        /// <summary>The attention.</summary>
        public float[] Attention { get; set; } = [];
    }
}
