using System.Diagnostics;

namespace Microsoft.ML.Beit.Tests;

/// <summary>A training process killed at a random point and resumed from its checkpoints ends where an uninterrupted run does.</summary>
[TestClass]
public sealed class KilledTrainingTests
{
    [TestMethod]
    public void AKilledFinetuneResumesAndLosesNothing()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string images = Path.Combine(root, "fm");
            var (code, _, error) = BeitToolTests.Beit("fashion-mnist", "--data", FashionMnist.Directory, "--output", images, "--train-images", "400", "--test-images", "40");
            Assert.AreEqual(0, code, error);
            string config = Path.Combine(root, "model.json");
            File.WriteAllText(config, """{"image_size": 28, "patch_size": 7, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}""");
            string[] Arguments(string output, string checkpoints) =>
                ["finetune", "--data", Path.Combine(images, "train"), "--model", config, "--epochs", "4", "--batch-size", "16", "--lr", "1e-3",
                 "--layer-decay", "1", "--warmup-epochs", "1", "--seed", "3", "--output", output, "--checkpoints", checkpoints];

            string reference = Path.Combine(root, "reference.zip");
            (code, _, error) = BeitToolTests.Beit(Arguments(reference, Path.Combine(root, "a")));
            Assert.AreEqual(0, code, error);

            // Start the same run and kill it, without warning, once it has written a checkpoint and gone on a random while.
            string checkpoints = Path.Combine(root, "b"), resumed = Path.Combine(root, "resumed.zip");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])[BeitToolTests.ToolPath(), .. Arguments(resumed, checkpoints)]) start.ArgumentList.Add(a);
            using (var process = Process.Start(start)!)
            {
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                var clock = Stopwatch.StartNew();
                while (!File.Exists(Path.Combine(checkpoints, "latest")) && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(20);
                Thread.Sleep(new Random().Next(0, 400));
                bool killed = !process.HasExited;
                if (killed) process.Kill(entireProcessTree: true);
                process.WaitForExit();
                Console.WriteLine($"{(killed ? "killed" : "finished before the kill")} after {clock.Elapsed.TotalSeconds:F1} s; latest checkpoint: {File.ReadAllText(Path.Combine(checkpoints, "latest")).Trim()}");
            }

            (code, _, error) = BeitToolTests.Beit([.. Arguments(resumed, checkpoints), "--resume", checkpoints]);
            Assert.AreEqual(0, code, error);
            var (_, expected, _) = BeitToolTests.Beit("predict", "--model", reference, "--images", Path.Combine(images, "test"));
            var (_, actual, _) = BeitToolTests.Beit("predict", "--model", resumed, "--images", Path.Combine(images, "test"));
            Console.WriteLine($"predictions of the resumed run equal the uninterrupted run's on {expected.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} images: {expected == actual}");
            Assert.AreEqual(expected, actual);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
