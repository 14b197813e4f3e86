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
                "--batch-size", "16", "--warmup-epochs", "1", "--layer-decay", "1", "--output", zip, "--device", "cpu", "--generate-code", generated,
                "--logdir", Path.Combine(folder, "logs"));
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "Accuracy ");
            StringAssert.Contains(output, "Confusion table");
            Assert.IsTrue(File.Exists(zip));
            Assert.IsTrue(File.Exists(Path.Combine(generated, "Program.cs")));
            // 120 images in batches of 16 for two epochs: 16 steps, validated twice.
            var curves = TensorBoardEvents.Scalars(Path.Combine(folder, "logs"));
            Assert.HasCount(16, curves["train/loss"], "--logdir writes TensorBoard curves");
            Assert.HasCount(2, curves["validation/metric"]);

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

            // A path with a comma and a quote: predict quotes it as RFC 4180 does, and evaluate reads it back from a quoted CSV.
            var first = rows[0];
            string label = Path.GetFileName(Path.GetDirectoryName(first.Path))!, odd = Path.Combine(folder, "odd", "a \"quoted\", name.png");
            Directory.CreateDirectory(Path.GetDirectoryName(odd)!);
            File.Copy(first.Path, odd);
            (code, output, error) = BeitToolTests.Beit("predict", "--model", zip, "--images", odd);
            Assert.AreEqual(0, code, error);
            Console.WriteLine(output);
            StringAssert.StartsWith(output, "\"" + odd.Replace("\"", "\"\"") + "\",");
            using (var parser = new Microsoft.VisualBasic.FileIO.TextFieldParser(new StringReader(output)) { HasFieldsEnclosedInQuotes = true })
            {
                parser.SetDelimiters(",");
                var fields = parser.ReadFields()!;
                Assert.HasCount(3, fields, "path, class, probability");
                Assert.AreEqual(odd, fields[0]);
                Assert.AreEqual(here.Single(p => p.Path == first.Path).PredictedLabel, fields[1], "the copy is predicted as the original");
            }
            string csv = Path.Combine(folder, "odd.csv");
            File.WriteAllText(csv, $"path,label\n\"{odd.Replace("\"", "\"\"")}\",\"{label}\"\n");
            (code, output, error) = BeitToolTests.Beit("evaluate", "--model", zip, "--data", csv);
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "Accuracy ");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The project `--generate-code` writes references the Microsoft.ML.Beit package by the version the library packs as,
    /// and no path of this machine: packed here, added as a source with the command its README gives, it restores offline
    /// (the packed library plus the other packages from the machine's NuGet cache), builds in a folder outside the
    /// repository and predicts.
    /// </summary>
    [TestMethod]
    public void TheGeneratedConsumptionProjectBuildsFromThePackedPackageAndPredicts()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string root = CliReferenceTests.RepositoryRoot();
            string train = Path.Combine(folder, "train");
            WriteClassFolders(train, FashionMnist.Load("train", 40));
            string zip = Path.Combine(folder, "model.zip"), generated = Path.Combine(folder, "consumer");
            Assert.IsFalse(Path.GetFullPath(generated).StartsWith(Path.GetFullPath(root), StringComparison.Ordinal), "the project is built outside the repository");
            var (code, _, error) = BeitToolTests.Beit("finetune", "--data", train, "--model", "tiny", "--epochs", "1", "--batch-size", "20",
                "--output", zip, "--device", "cpu", "--generate-code", generated);
            Assert.AreEqual(0, code, error);

            // The library as a package, as built for these tests (one pack shared with the other package tests).
            string packages = PackedLibrary.Packages, version = PackedLibrary.Version;

            string project = File.ReadAllText(Path.Combine(generated, "BeitModelConsumer.csproj"));
            Console.WriteLine(project);
            StringAssert.Contains(project, $"<PackageReference Include=\"Microsoft.ML.Beit\" Version=\"{version}\" />", "the package, by the version it packs as");
            foreach (var file in Directory.GetFiles(generated).Where(f => !f.EndsWith(".zip", StringComparison.Ordinal)))
            {
                string text = File.ReadAllText(file);
                Assert.DoesNotContain(root.TrimEnd('/'), text, $"{Path.GetFileName(file)} names the repository's folder");
                Assert.DoesNotContain(folder, text, $"{Path.GetFileName(file)} names the folder it was generated in");
                Assert.DoesNotContain("ProjectReference", text, Path.GetFileName(file));
                Assert.DoesNotContain("<Import", text, Path.GetFileName(file));
            }
            string readme = File.ReadAllText(Path.Combine(generated, "README.md"));
            const string addSource = "dotnet nuget add source ~/beit-packages --name beit-local --configfile nuget.config";
            StringAssert.Contains(readme, addSource, "the README says how to add the local package folder");

            // The README's command, with this test's folder for ~/beit-packages.
            var (sourceCode, sourceOutput) = Run("dotnet", addSource.Replace("~/beit-packages", packages).Replace("nuget.config", Path.Combine(generated, "nuget.config")).Split(' ')[1..]);
            Assert.AreEqual(0, sourceCode, sourceOutput);
            StringAssert.Contains(File.ReadAllText(Path.Combine(generated, "nuget.config")), packages);

            // Offline: the packed library and the machine's NuGet cache; packages restore into a folder of this test's own.
            var (buildCode, buildOutput) = Run("dotnet", ["build", generated, "-v", "q", "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false",
                .. PackedLibrary.OfflineRestore(Path.Combine(folder, "restored"))]);
            Assert.AreEqual(0, buildCode, buildOutput);
            Assert.IsTrue(Directory.Exists(Path.Combine(folder, "restored", "microsoft.ml.beit", version)), "Microsoft.ML.Beit came from the packed package");

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
