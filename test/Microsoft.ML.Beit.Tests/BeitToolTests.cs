using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;

namespace Microsoft.ML.Beit.Tests;

/// <summary>The `beit` command-line tool, run as a user runs it (a separate process).</summary>
[TestClass]
public sealed class BeitToolTests
{
    [TestMethod]
    public void VersionPrintsTheToolVersion()
    {
        var (exitCode, output, _) = Beit("--version");
        Assert.AreEqual(0, exitCode);
        StringAssert.StartsWith(output.Trim(), "0.1.0");
    }

    [TestMethod]
    public void InfoPrintsConfigParameterCountAndKeys()
    {
        using var model = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config()));
        string directory = TinyModels.TempDirectory();
        try
        {
            BeitCheckpoint.Save(model, directory);
            long parameters = model.parameters().Sum(p => p.numel());
            var (exitCode, output, error) = Beit("info", directory);
            Console.WriteLine(output);
            Assert.AreEqual(0, exitCode, error);
            StringAssert.Contains(output, "Architecture ImageClassification");
            StringAssert.Contains(output, $"Parameters {parameters:N0}");
            StringAssert.Contains(output, "\"hidden_size\": 48");
            StringAssert.Contains(output, "beit.encoder.layer.0.attention.attention.query.weight [48, 48]");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void InfoOnAMissingCheckpointIsAOneLineError()
    {
        var (exitCode, _, error) = Beit("info", "/nonexistent/model");
        Assert.AreEqual(1, exitCode);
        StringAssert.StartsWith(error, "error: No checkpoint at '/nonexistent/model'");
    }

    [TestMethod]
    public void DemoWeightsAreDeterminedBySeed()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        string root = TinyModels.TempDirectory();
        try
        {
            Dictionary<string, TorchSharp.torch.Tensor> Demo(string name, int seed)
            {
                string directory = Path.Combine(root, name);
                var (exitCode, output, error) = Beit("demo", "--output", directory, "--seed", seed.ToString());
                Console.Write(output);
                Assert.AreEqual(0, exitCode, error);
                return SafetensorsFile.Read(Path.Combine(directory, "model.safetensors"));
            }
            var first = Demo("a", 7);
            var again = Demo("b", 7);
            var other = Demo("c", 8);
            // Every tensor, the patch convolution included (its constructor draws from LibTorch's global generator).
            Assert.IsGreaterThan(10, first.Count);
            foreach (var (key, tensor) in first)
                Assert.IsTrue(tensor.allclose(again[key], rtol: 0, atol: 0), $"{key} differs between two runs with seed 7");
            const string patch = "beit.embeddings.patch_embeddings.projection.weight";
            Console.WriteLine($"{patch}: seed 7 vs 7 equal, seed 7 vs 8 max abs diff {first[patch].sub(other[patch]).abs().max().item<float>():E2}");
            Assert.IsFalse(first[patch].allclose(other[patch], rtol: 0, atol: 0), "another seed draws other weights");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void NumbersReadTheSameInACommaDecimalLocale()
    {
        // In de-DE "." groups thousands: parsed by the user's culture, "--drop-path 1.5" would read as 15.
        string folder = TinyModels.TempDirectory();
        try
        {
            var german = new Dictionary<string, string> { ["LANG"] = "de_DE.UTF-8", ["LC_ALL"] = "de_DE.UTF-8" };
            var (code, _, error) = Processes.Run("dotnet", [ToolPath(), "quickstart", "--output", folder, "--train-images", "20", "--test-images", "10",
                "--drop-path", "1.5"], TimeSpan.FromMinutes(2), german);
            Console.WriteLine(error);
            // The library refuses DropPath 1.5 (not 15): a bad value of the flag of that name, so a usage error naming it.
            Assert.AreEqual(2, code, error);
            StringAssert.Contains(error, "--drop-path must be in [0, 1), not 1.5.");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ForwardWritesReferenceNamedOutputsThatMatchThePyTorchOriginal()
    {
        string caseDir = ReferenceData.Case("unilm-pretrain-tiny");
        string output = Path.Combine(TinyModels.TempDirectory(), "out.safetensors");
        try
        {
            var (exitCode, stdout, stderr) = Beit("forward", "--model", Path.Combine(caseDir, "weights.pth"),
                "--input", Path.Combine(caseDir, "expected.safetensors"), "--output", output, "--device", "cpu");
            Console.WriteLine(stdout);
            Assert.AreEqual(0, exitCode, stderr);
            var produced = SafetensorsFile.Read(output);
            var expected = ReferenceData.Expected("unilm-pretrain-tiny");
            foreach (var name in new[] { "logits_masked", "logits_all_tokens", "final_hidden_states" })
            {
                double diff = ReferenceData.MaxAbsDiff(produced[name], expected[name]);
                Console.WriteLine($"beit forward {name}: max abs diff {diff:E2}");
                Assert.IsLessThanOrEqualTo(1e-4, diff, name);
            }
            Assert.IsTrue(produced.ContainsKey("hidden_states_3"));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(output)!, recursive: true);
        }
    }

    /// <summary>Runs the built tool (beit.dll beside the tests' build of Beit.Trainer) and captures its output.</summary>
    internal static (int ExitCode, string Output, string Error) Beit(params string[] arguments) =>
        Processes.Run("dotnet", [ToolPath(), .. arguments], TimeSpan.FromMinutes(2));

    internal static string ToolPath() => Built(Path.Combine("src", "Beit.Trainer"), "beit.dll");

    /// <summary>Runs the built benchmarks program (test/Microsoft.ML.Beit.Benchmarks) and captures its output.</summary>
    internal static (int ExitCode, string Output, string Error) Benchmarks(params string[] arguments) =>
        Processes.Run("dotnet", [Built(Path.Combine("test", "Microsoft.ML.Beit.Benchmarks"), "Microsoft.ML.Beit.Benchmarks.dll"), .. arguments], TimeSpan.FromMinutes(2));

    static string Built(string project, string assembly)
    {
        // The test assembly sits in test/Microsoft.ML.Beit.Tests/bin/<Configuration>/<tfm>/; the tool is
        // built (as a project reference) into the same relative place under src/Beit.Trainer.
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        string tfm = here.Name, configuration = here.Parent!.Name;
        for (var dir = here; dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Beit.ML.sln")))
            {
                string tool = Path.Combine(dir.FullName, project, "bin", configuration, tfm, assembly);
                if (File.Exists(tool)) return tool;
                // The test project references the program, so building the tests builds it: a missing program is a broken build.
                Assert.Fail($"{assembly} is not built at {tool} (the test project's reference to {project} builds it).");
            }
        Assert.Fail("Cannot find the repository root (Beit.ML.sln) above the test assembly.");
        return "";
    }
}

/// <summary>The benchmarks' <c>bench</c> command runs end to end on a tiny model and reports its figures (no timing is asserted).</summary>
[TestClass]
public sealed class BenchToolTests
{
    [TestMethod]
    public void BenchReportsGemmRateAndImagesPerSecond()
    {
        string json = Path.Combine(TinyModels.TempDirectory(), "bench.json");
        var (code, output, error) = BeitToolTests.Benchmarks("bench", "--size", "tiny", "--batch", "1,4", "--iterations", "1", "--json", json);
        Console.WriteLine(output);
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "GFLOP/s (2048^3 matrix products");
        Assert.AreEqual(2, output.Split('\n').Count(l => l.StartsWith("forward ", StringComparison.Ordinal)), "one row per batch size");
        StringAssert.Contains(output, "peak RSS");
        using (var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)))
        {
            var rows = document.RootElement.GetProperty("throughput");
            Assert.AreEqual(2, rows.GetArrayLength());
            Assert.IsGreaterThan(0.0, rows[1].GetProperty("images_per_s").GetDouble());
            Assert.IsGreaterThan(0L, document.RootElement.GetProperty("peak_rss_bytes").GetInt64());
        }
        Directory.Delete(Path.GetDirectoryName(json)!, recursive: true);
        // The PyTorch peer knows base and large only: a tiny run says so and goes on without it.
        (code, output, error) = BeitToolTests.Benchmarks("bench", "--size", "tiny", "--batch", "4", "--iterations", "1", "--pipeline-images", "12", "--peer",
            "--onnx", "--breakdown");
        Console.WriteLine(output);
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "no peer figures");
        StringAssert.Contains(output, "forward ONNX Runtime");
        StringAssert.Contains(output, "breakdown, batch 4: forward");
        StringAssert.Contains(output, "featurize pipeline");
        StringAssert.Contains(output, "12 JPEGs 256x256");
        (code, output, error) = BeitToolTests.Benchmarks("bench", "--size", "tiny", "--batch", "2", "--iterations", "1", "--train");
        Console.WriteLine(output);
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "training steps");
        (code, _, error) = BeitToolTests.Benchmarks("bench", "--size", "tiny", "--dtype", "float16");
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(error, "float16");
    }

    [TestMethod]
    public void ForwardFlopsOfBeitBaseAre35Gflop()
    {
        double flops = Modeling.BeitConfig.Base.ForwardFlopsPerImage();
        Console.WriteLine($"BEiT-base 224: {flops / 1e9:F2} GFLOP per image; large: {Modeling.BeitConfig.Large.ForwardFlopsPerImage() / 1e9:F2}");
        Assert.AreEqual(35.1, flops / 1e9, 0.1);
    }
}
