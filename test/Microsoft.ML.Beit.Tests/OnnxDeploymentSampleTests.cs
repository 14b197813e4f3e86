using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The deployment promise of <c>Backend = Onnx</c>: samples/OnnxDeployment, an app with ONNX Runtime and no LibTorch package,
/// loads a model zip converted by <c>beit export-onnx --output deployed.zip</c> in its own process and predicts what the TorchSharp model predicts, and LibTorch is never loaded.
/// </summary>
[TestClass]
public sealed class OnnxDeploymentSampleTests
{
    public sealed class Input
    {
        public string ImagePath { get; set; } = "";
    }

    public sealed class Output
    {
        public string ImagePath { get; set; } = "";
        public string PredictedClass { get; set; } = "";
        [VectorType] public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void AnAppWithoutLibTorchScoresAConvertedClassifierZip()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var images = FashionMnist.Load("t10k", 6).Select((e, i) =>
            {
                string path = Path.Combine(folder, $"image{i}.png");
                File.WriteAllBytes(path, e.Image);
                return path;
            }).ToList();
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(images.Select(p => new Input { ImagePath = p }));
            var config = TinyModels.Config(labels: 4);
            config.Id2Label = new Dictionary<int, string> { [0] = "alpha", [1] = "beta", [2] = "gamma", [3] = "delta" };
            config.Label2Id = config.Id2Label.ToDictionary(p => p.Value, p => p.Key);
            using var classifier = new BeitImageClassificationTransformer(ml,
                new Classification.BeitClassifierEngine(TinyModels.Randomize(new BeitForImageClassification(config)), BeitPreprocessorConfig.Pt22k(32), "cpu"),
                "ImagePath", "Score", "PredictedLabel", batchSize: 4, BeitInvalidImageHandling.Throw);
            var named = ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(classifier.Transform(data));
            var expected = ml.Data.CreateEnumerable<Output>(named.Transform(classifier.Transform(data)), false).ToList();

            // The TorchSharp model's zip, converted by the tool as a user would.
            string trained = Path.Combine(folder, "model.zip"), zip = Path.Combine(folder, "deployed.zip");
            ml.Model.Save(classifier, data.Schema, trained);
            string converted = OnnxDeploymentTests.ExportWithTool("--model", trained, "--output", zip, "--device", "cpu");
            StringAssert.Contains(converted, "Backend Onnx");

            string app = BuildApp(folder);
            var (code, output, error) = Processes.Run("dotnet", [Path.Combine(app, "OnnxDeployment.dll"), zip, .. images], TimeSpan.FromMinutes(2));
            Console.WriteLine(output + error);
            Assert.AreEqual(0, code, output + error);
            StringAssert.Contains(output, "LibTorch loaded: no");
            var predicted = output.Split('\n').Where(l => l.StartsWith("image", StringComparison.Ordinal))
                .ToDictionary(l => l.Split('\t')[0], l => l.Trim().Split('\t')[1..]);
            foreach (var row in expected)
            {
                var line = predicted[Path.GetFileName(row.ImagePath)];
                Assert.AreEqual(row.PredictedClass, line[0], $"{row.ImagePath}: the app predicts the TorchSharp model's class");
                Assert.AreEqual(row.Score.Max(), float.Parse(line[1], System.Globalization.CultureInfo.InvariantCulture), 1e-4, $"{row.ImagePath}: and its probability");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The documented flow with the tool's own zip: <c>beit finetune</c> (whose pipeline reads <c>Path</c> and <c>Label</c> and
    /// already maps <c>PredictedLabel</c> to the class name), <c>beit export-onnx --output deployed.zip</c>, then the app.
    /// </summary>
    [TestMethod]
    public void AnAppWithoutLibTorchScoresAFinetuneZipConvertedByTheTool()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string train = Path.Combine(folder, "train");
            var examples = FashionMnist.Load("train", 24);
            for (int i = 0; i < examples.Count; i++)
            {
                string directory = Path.Combine(train, examples[i].Label.Replace('/', '_'));
                Directory.CreateDirectory(directory);
                File.WriteAllBytes(Path.Combine(directory, $"{i:D4}.png"), examples[i].Image);
            }
            var images = FashionMnist.Load("t10k", 5).Select((e, i) =>
            {
                string path = Path.Combine(folder, $"image{i}.png");
                File.WriteAllBytes(path, e.Image);
                return path;
            }).ToList();
            string trained = Path.Combine(folder, "model.zip"), zip = Path.Combine(folder, "deployed.zip");
            var (code, output, error) = BeitToolTests.Beit("finetune", "--data", train, "--model", "tiny", "--epochs", "1", "--batch-size", "12",
                "--output", trained, "--device", "cpu", "--threads", "1");
            Assert.AreEqual(0, code, error + output);
            (code, output, error) = BeitToolTests.Beit("predict", "--model", trained, "--images", folder);
            Assert.AreEqual(0, code, error + output);
            // predict prints path,class,probability for every image under the folder (the training images included).
            var expected = output.Split('\n').Select(l => l.Trim().Split(',')).Where(f => f.Length == 3 && images.Contains(f[0]))
                .ToDictionary(f => Path.GetFileName(f[0]), f => (Class: f[1], Probability: float.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)));
            Assert.HasCount(images.Count, expected, output);
            string converted = OnnxDeploymentTests.ExportWithTool("--model", trained, "--output", zip, "--device", "cpu");
            StringAssert.Contains(converted, "Backend Onnx");

            string app = BuildApp(folder);
            (code, output, error) = Processes.Run("dotnet", [Path.Combine(app, "OnnxDeployment.dll"), zip, .. images], TimeSpan.FromMinutes(2));
            Console.WriteLine(output + error);
            Assert.AreEqual(0, code, output + error);
            StringAssert.Contains(output, "LibTorch loaded: no");
            var predicted = output.Split('\n').Where(l => l.StartsWith("image", StringComparison.Ordinal))
                .ToDictionary(l => l.Split('\t')[0], l => l.Trim().Split('\t')[1..]);
            Assert.HasCount(images.Count, predicted, output);
            foreach (var (name, (expectedClass, probability)) in expected)
            {
                Assert.AreEqual(expectedClass, predicted[name][0], $"{name}: the app predicts what `beit predict` predicts");
                Assert.AreEqual(probability, float.Parse(predicted[name][1], System.Globalization.CultureInfo.InvariantCulture), 1e-3, $"{name}: and its probability");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Builds samples/OnnxDeployment into a folder of its own and checks that no LibTorch file came with it.</summary>
    static string BuildApp(string folder)
    {
        string app = Path.Combine(folder, "app");
        string project = Path.Combine(Path.GetDirectoryName(FashionMnist.Directory)!, "..", "OnnxDeployment", "OnnxDeployment.csproj");
        // No build servers: they would outlive the test holding its output pipes.
        var (buildCode, buildOutput, buildError) = Processes.Run("dotnet", ["build", project, "-o", app, "-v", "q", "-nologo", "-nodeReuse:false",
            "-p:UseSharedCompilation=false"], TimeSpan.FromMinutes(5));
        Assert.AreEqual(0, buildCode, buildOutput + buildError);
        var torchFiles = Directory.EnumerateFiles(app, "libtorch*", SearchOption.AllDirectories).ToList();
        Assert.IsEmpty(torchFiles, $"the app carries LibTorch: {string.Join(", ", torchFiles)}");
        return app;
    }
}
