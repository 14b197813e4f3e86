using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Self-attention maps: the ClsAttention output equals the model's attention probabilities, and renders over the image.</summary>
[TestClass]
public sealed class AttentionMapTests
{
    /// <summary>A features row.</summary>
    public sealed class Row
    {
        /// <summary>Heads x patches.</summary>
        public float[] A { get; set; } = [];
    }

    [TestMethod]
    public void ClsAttentionIsTheChosenBlocksAttentionFromTheClsToken()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            manual_seed(5);
            using var model = TinyModels.Randomize(new BeitModel(TinyModels.Config()));
            BeitCheckpoint.Save(model, folder);
            var ml = new MLContext(seed: 1);
            var rows = FashionMnist.Load("train", 3);
            var data = ml.Data.LoadFromEnumerable(rows);
            using var featurizer = ml.Transforms.BeitFeaturize("A", "Image", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromPath(folder), Pooling = BeitPooling.ClsAttention, Layer = 2,
            }).Fit(data);
            var maps = ml.Data.CreateEnumerable<Row>(featurizer.Transform(data), false).Select(r => r.A).ToList();
            var config = featurizer.ModelConfig;
            Assert.AreEqual(config.NumAttentionHeads * config.NumPatches, maps[0].Length);

            // The same numbers straight from the model: block 2's attention probabilities, CLS row, patch columns.
            var image = RgbImage.Decode(rows[0].Image, "row 0");
            using var noGrad = no_grad();
            using var pixels = featurizer.Preprocessor is { } p ? new BeitImageProcessor(p).ProcessBatch([image]) : throw new InvalidOperationException();
            using var reloaded = BeitCheckpoint.Load(folder);
            using var backbone = (BeitModel)reloaded.CreateModel();
            using var output = backbone.forward(pixels, null, outputAttentions: true);
            var expected = output.Attentions![1].select(2, 0).narrow(2, 1, config.NumPatches).flatten().data<float>().ToArray();
            double diff = TrainingSteps.MaxAbsDiff(expected, maps[0]);
            var mean = BeitAttentionMaps.Head(maps[0], config.NumAttentionHeads);
            Console.WriteLine($"{config.NumAttentionHeads} heads x {config.NumPatches} patches; max abs diff to the model's probabilities {diff:E2}; mean-map sum {mean.Sum():F3} (the rest goes to CLS)");
            Assert.IsLessThanOrEqualTo(1e-6, diff);
            Assert.IsTrue(mean.Sum() is > 0 and <= 1.0001f);

            string png = Path.Combine(folder, "heat.png");
            BeitAttentionMaps.WritePng(png, image, mean);
            var written = RgbImage.Load(png);
            Assert.AreEqual((28, 28), (written.Width, written.Height));

            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.BeitFeaturize("A", "Image",
                new BeitFeaturizerOptions { Model = BeitModelSource.FromPath(folder), Pooling = BeitPooling.ClsAttention, Layer = 0 }).Fit(data));
            StringAssert.Contains(error.Message, "no attention");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
