namespace Microsoft.ML.Beit.Tests;

/// <summary><c>beit segment</c> as a user runs it: canvases, train, then evaluate and predict in fresh processes.</summary>
[TestClass]
public sealed class SegmentToolTests
{
    [TestMethod]
    public void TrainEvaluateAndPredictFromTheShell()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string data = Path.Combine(root, "data"), zip = Path.Combine(root, "seg.zip"), masks = Path.Combine(root, "masks");
            var (code, output, error) = BeitToolTests.Beit("segment", "canvases", "--data", FashionMnist.Directory, "--output", data,
                "--canvas-size", "32", "--training-canvases", "24", "--validation-canvases", "6", "--classes", "1,8,9");
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "background, Trouser, Bag, Ankle_boot");

            (code, output, error) = BeitToolTests.Beit("segment", "train", "--data", data, "--model", "tiny", "--epochs", "1",
                "--batch-size", "8", "--learning-rate", "1e-3", "--layer-decay", "1", "--output", zip);
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "MeanIoU");
            Assert.IsTrue(File.Exists(zip));
            string trainedMiou = output.Split('\n').First(l => l.StartsWith("MeanIoU", StringComparison.Ordinal)).Trim();

            // A fresh process reloads the zip and gets the same mIoU on the same validation images.
            (code, output, error) = BeitToolTests.Beit("segment", "evaluate", "--model", zip, "--data", data);
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, trainedMiou);

            (code, output, error) = BeitToolTests.Beit("segment", "predict", "--model", zip, "--images", Path.Combine(data, "images", "validation"), "--output", masks);
            Assert.AreEqual(0, code, error);
            foreach (var suffix in new[] { "_mask.png", "_color.png", "_overlay.png" })
                Assert.AreEqual(6, Directory.GetFiles(masks, "*" + suffix).Length, suffix);
            var mask = Segmentation.SegmentationLabelMap.Read(Directory.GetFiles(masks, "*_mask.png")[0], out int width, out int height);
            Console.WriteLine($"mask {width}x{height}, classes present: {string.Join(", ", mask.Distinct().Order())}");
            Assert.AreEqual(32, width);
            Assert.IsTrue(mask.All(v => v < 4));

            // A model zip of another kind (a featurizer's) is named as such.
            string featurizerZip = Path.Combine(root, "featurizer.zip");
            var ml = new MLContext(seed: 1);
            var images = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 2));
            using (var featurizer = ml.Transforms.BeitFeaturize("Features", "Image",
                       new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(FeaturizerTests.SaveTinyMaskedImageModel(root)) }).Fit(images))
                ml.Model.Save(featurizer, images.Schema, featurizerZip);
            (code, output, error) = BeitToolTests.Beit("segment", "evaluate", "--model", featurizerZip, "--data", data);
            Console.WriteLine($"a featurizer zip: exit code {code}: {error.Trim()}");
            Assert.AreNotEqual(0, code, output);
            StringAssert.Contains(error, featurizerZip);
            StringAssert.Contains(error, "is not a BEiT segmentation model zip (it holds BeitFeaturizerTransformer)");

            // A missing zip is named too.
            string missing = Path.Combine(root, "missing.zip");
            (code, output, error) = BeitToolTests.Beit("segment", "evaluate", "--model", missing, "--data", data);
            Console.WriteLine($"a missing zip: exit code {code}: {error.Trim()}");
            Assert.AreNotEqual(0, code, output);
            StringAssert.Contains(error, missing);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
