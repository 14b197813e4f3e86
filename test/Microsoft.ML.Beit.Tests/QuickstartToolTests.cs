namespace Microsoft.ML.Beit.Tests;

/// <summary><c>beit quickstart</c>, the README's main job, on the Fashion-MNIST subset the repository ships (shortened).</summary>
[TestClass]
public sealed class QuickstartToolTests
{
    [TestMethod]
    public void QuickstartTrainsEvaluatesAndSavesAModelThatReloads()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var (code, output, error) = BeitToolTests.Beit("quickstart", "--output", folder, "--epochs", "1", "--train-images", "200", "--test-images", "50");
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            // Every tenth training image validates by default; the test images are only evaluated.
            StringAssert.Contains(output, "Training on 180 images of 10 classes, validating on 20");
            StringAssert.Contains(output, "Metrics on 50 held-out test images");
            StringAssert.Contains(output, "Accuracy ");
            // The next step is spelled with the command this run was started with (dotnet and the assembly's path here).
            StringAssert.Contains(output, $"Next: dotnet {CliConventionTests.Typed(BeitToolTests.ToolPath())} predict --model {Path.Combine(folder, "model.zip")}");
            Assert.IsTrue(File.Exists(Path.Combine(folder, "model.zip")));
            var predicted = ScoreTestImages<FinetuneToolTests.Predicted>(folder);
            Assert.HasCount(50, predicted);
            string[] classes = Directory.GetDirectories(Path.Combine(folder, "images", "train")).Select(Path.GetFileName).ToArray()!;
            Assert.IsTrue(predicted.All(p => classes.Contains(p.PredictedLabel)), "every prediction is one of the class folders' names");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ValidateEveryZeroTrainsOnEveryImageAndOneIsRefused()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var (code, output, error) = BeitToolTests.Beit("quickstart", "--output", folder, "--epochs", "1", "--train-images", "100", "--test-images", "20",
                "--validate-every", "0", "--drop-path", "0.1");
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "Training on 100 images");
            Assert.DoesNotContain("validating", output);

            // Refused while parsing: a usage error, before any image is written.
            (code, _, error) = BeitToolTests.Beit("quickstart", "--output", folder, "--validate-every", "1");
            Assert.AreEqual(2, code, error);
            StringAssert.Contains(error, "--validate-every must be 0 (no validation) or at least 2");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Reloads the run's model.zip in this process and scores its test images, in ordinal path order.</summary>
    static List<T> ScoreTestImages<T>(string folder) where T : class, new()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(Path.Combine(folder, "model.zip"), out _);
        var images = Directory.GetFiles(Path.Combine(folder, "images", "test"), "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
        // The zip starts with the label's MapValueToKey, as ML.NET pipelines do, so scoring rows carry a (here empty) Label.
        var rows = ml.Data.LoadFromEnumerable(images.Select(p => new FinetuneToolTests.PathRow { Path = p }));
        return ml.Data.CreateEnumerable<T>(model.Transform(rows), reuseRowObject: false).ToList();
    }

    sealed class Scored
    {
        public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void TheSeedDeterminesTheTrainedModel()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            float[] Train(string name, int seed)
            {
                string folder = Path.Combine(root, name);
                var (code, _, error) = BeitToolTests.Beit("quickstart", "--output", folder, "--epochs", "1", "--train-images", "100", "--test-images", "20",
                    "--validate-every", "0", "--augment", "--seed", seed.ToString());
                Assert.AreEqual(0, code, error);
                return ScoreTestImages<Scored>(folder).SelectMany(r => r.Score).ToArray();
            }
            float[] first = Train("a", 3), again = Train("b", 3), other = Train("c", 4);
            double Diff(float[] x, float[] y) => TrainingSteps.MaxAbsDiff(x, y);
            Console.WriteLine($"test-image probabilities: seed 3 vs 3 max abs diff {Diff(first, again):E2}, seed 3 vs 4 {Diff(first, other):E2}");
            CollectionAssert.AreEqual(first, again, "the same seed trains the same model");
            Assert.IsGreaterThan(1e-4, Diff(first, other), "another seed trains another model");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
