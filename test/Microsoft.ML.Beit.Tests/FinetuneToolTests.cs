namespace Microsoft.ML.Beit.Tests;

/// <summary>`beit finetune`, `beit evaluate` and `beit predict` as a user runs them: each in its own process.</summary>
[TestClass]
public sealed class FinetuneToolTests
{
    public sealed class PathRow
    {
        public string Path { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public sealed class Predicted
    {
        public string Path { get; set; } = "";
        public string PredictedLabel { get; set; } = "";
    }

    [TestMethod]
    public void FinetuneEvaluateAndPredictFromFoldersOfImages()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string train = Path.Combine(folder, "train"), test = Path.Combine(folder, "test");
            WriteClassFolders(train, FashionMnist.Load("train", 120));
            WriteClassFolders(test, FashionMnist.Load("t10k", 30));
            string zip = Path.Combine(folder, "model.zip");

            string generated = Path.Combine(folder, "consumer");
            var (code, output, error) = BeitToolTests.Beit("finetune", "--data", train, "--validation", test, "--model", "tiny", "--epochs", "2",
                "--batch-size", "16", "--warmup-epochs", "1", "--layer-decay", "1", "--output", zip, "--device", "cpu", "--generate-code", generated);
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "Accuracy ");
            StringAssert.Contains(output, "Confusion table");
            Assert.IsTrue(File.Exists(zip));
            Assert.IsTrue(File.Exists(Path.Combine(generated, "Program.cs")));

            (code, output, error) = BeitToolTests.Beit("evaluate", "--model", zip, "--data", test);
            Assert.AreEqual(0, code, error);
            double accuracy = double.Parse(output.Split('\n').First(l => l.StartsWith("Accuracy ")).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            Console.WriteLine($"beit evaluate in a fresh process: Accuracy {accuracy}");

            (code, output, error) = BeitToolTests.Beit("predict", "--model", zip, "--images", test);
            Assert.AreEqual(0, code, error);
            var fromTool = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(',')).ToDictionary(p => p[0], p => p[1]);
            Assert.HasCount(30, fromTool);

            // The same zip in this process predicts the same classes.
            var ml = new MLContext(seed: 1);
            var model = ml.Model.Load(zip, out _);
            var rows = Directory.EnumerateFiles(test, "*.png", SearchOption.AllDirectories).Select(p => new PathRow { Path = p }).ToList();
            var here = ml.Data.CreateEnumerable<Predicted>(model.Transform(ml.Data.LoadFromEnumerable(rows)), false).ToList();
            Assert.IsTrue(here.All(p => fromTool[p.Path] == p.PredictedLabel), "fresh-process predictions equal in-process ones");
            double recomputed = here.Count(p => Path.GetFileName(Path.GetDirectoryName(p.Path)) == p.PredictedLabel) / (double)here.Count;
            Assert.AreEqual(recomputed, accuracy, 1e-4, "evaluate's accuracy matches the predictions");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void TheGeneratedConsumptionProjectBuildsAndPredicts()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string train = Path.Combine(folder, "train");
            var examples = FashionMnist.Load("train", 40);
            WriteClassFolders(train, examples);
            string zip = Path.Combine(folder, "model.zip"), generated = Path.Combine(folder, "consumer");
            var (code, _, error) = BeitToolTests.Beit("finetune", "--data", train, "--model", "tiny", "--epochs", "1", "--batch-size", "20",
                "--output", zip, "--device", "cpu", "--generate-code", generated);
            Assert.AreEqual(0, code, error);

            // No build servers: they would outlive the test holding its output pipes.
            var (buildCode, buildOutput) = Run("dotnet", "build", generated, "-v", "q", "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false");
            Assert.AreEqual(0, buildCode, buildOutput);
            string image = Directory.EnumerateFiles(train, "*.png", SearchOption.AllDirectories).First();
            string dll = Path.Combine(generated, "bin", "Debug", "net10.0", "BeitModelConsumer.dll");
            var (runCode, runOutput) = Run("dotnet", dll, image);
            Console.WriteLine($"generated project predicts: {runOutput.Trim()}");
            Assert.AreEqual(0, runCode, runOutput);
            Assert.IsTrue(FashionMnist.ClassNames.Select(c => c.Replace('/', '_')).Any(c => runOutput.StartsWith(c)), runOutput);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static (int Code, string Output) Run(string file, params string[] arguments)
    {
        var (code, output, error) = Processes.Run(file, arguments, TimeSpan.FromMinutes(5));
        return (code, output + error);
    }

    [TestMethod]
    public void AFolderWithoutClassFoldersIsExplained()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var (code, _, error) = BeitToolTests.Beit("finetune", "--data", folder, "--model", "tiny");
            Assert.AreEqual(1, code);
            StringAssert.Contains(error, "has no subfolders");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static void WriteClassFolders(string root, List<FashionMnist.Example> examples)
    {
        for (int i = 0; i < examples.Count; i++)
        {
            string directory = Path.Combine(root, examples[i].Label.Replace('/', '_'));
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(Path.Combine(directory, $"{i:D4}.png"), examples[i].Image);
        }
    }
}
