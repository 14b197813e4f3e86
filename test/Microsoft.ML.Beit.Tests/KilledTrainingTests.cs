using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Beit.Tests;

/// <summary>A training process killed without warning and resumed from its checkpoints ends where an uninterrupted run does.</summary>
[TestClass]
public sealed partial class KilledTrainingTests
{
    // 400 images in batches of 16 for 4 epochs: 25 steps an epoch, 100 in all; a checkpoint at the end of each epoch.
    const int StepsPerEpoch = 25, TotalSteps = 100;

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
                ["finetune", "--data", Path.Combine(images, "train"), "--model", config, "--epochs", "4", "--batch-size", "16", "--learning-rate", "1e-3",
                 "--layer-decay", "1", "--warmup-epochs", "1", "--seed", "3", "--output", output, "--checkpoint-directory", checkpoints];

            string reference = Path.Combine(root, "reference.zip");
            (code, _, error) = BeitToolTests.Beit(Arguments(reference, Path.Combine(root, "a")));
            Assert.AreEqual(0, code, error);
            CollectionAssert.AreEqual(new[] { 1, TotalSteps }, new[] { StepsShown(error)[0], StepsShown(error)[^1] }, "the uninterrupted run shows steps 1 to 100");

            // Start the same run and kill it, without warning, as soon as the first epoch's checkpoint is in place:
            // three epochs are still to go, so the kill always lands mid-run.
            string checkpoints = Path.Combine(root, "b"), resumed = Path.Combine(root, "resumed.zip");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])[BeitToolTests.ToolPath(), .. Arguments(resumed, checkpoints)]) start.ArgumentList.Add(a);
            var killedErrors = new System.Text.StringBuilder();
            using (var process = Process.Start(start)!)
            {
                process.OutputDataReceived += (_, _) => { };
                process.ErrorDataReceived += (_, e) => { lock (killedErrors) killedErrors.AppendLine(e.Data); };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                // Polls a file the process writes; the two minutes only stop a broken run from hanging the test.
                var guard = Stopwatch.StartNew();
                while (!File.Exists(Path.Combine(checkpoints, "latest")) && !process.HasExited && guard.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(10);
                Assert.IsFalse(process.HasExited, $"the run ended (exit code {process.ExitCode}) before it could be killed: {killedErrors}");
                Assert.IsTrue(File.Exists(Path.Combine(checkpoints, "latest")), "no checkpoint within two minutes");
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                Assert.AreNotEqual(0, process.ExitCode, "the killed run did not exit normally");
            }
            Assert.IsFalse(File.Exists(resumed), "the killed run never got to write its model");
            int checkpoint = TrainingSteps.LatestCheckpointStep(checkpoints);
            Console.WriteLine($"killed; latest checkpoint at step {checkpoint}: {File.ReadAllText(Path.Combine(checkpoints, "latest")).Trim()}");
            Assert.IsTrue(checkpoint is >= StepsPerEpoch and < TotalSteps, $"the checkpoint (step {checkpoint}) lies inside the run");

            (code, _, error) = BeitToolTests.Beit([.. Arguments(resumed, checkpoints), "--resume-from", checkpoints]);
            Assert.AreEqual(0, code, error);
            var steps = StepsShown(error);
            Console.WriteLine($"the resumed run showed steps {string.Join(",", steps)}");
            Assert.AreEqual(checkpoint + 1, steps[0], "the resumed run starts at the checkpoint's step + 1");
            Assert.AreEqual(TotalSteps, steps[^1], "the resumed run ends at the run's last step");

            var (expectedCode, expected, expectedError) = BeitToolTests.Beit("predict", "--model", reference, "--images", Path.Combine(images, "test"));
            Assert.AreEqual(0, expectedCode, expectedError);
            var (actualCode, actual, actualError) = BeitToolTests.Beit("predict", "--model", resumed, "--images", Path.Combine(images, "test"));
            Assert.AreEqual(0, actualCode, actualError);
            int lines = expected.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            Console.WriteLine($"predictions of the resumed run equal the uninterrupted run's on {lines} lines: {expected == actual}");
            Assert.IsGreaterThanOrEqualTo(40, lines, "predict prints a line per test image");
            Assert.AreEqual(expected, actual);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The step numbers of the progress lines a run printed on stderr (the first step is always among them).</summary>
    static List<int> StepsShown(string stderr)
    {
        var steps = StepLine().Matches(stderr).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.IsNotEmpty(steps, $"no progress line in: {stderr}");
        Assert.IsTrue(StepLine().Matches(stderr).All(m => m.Groups[2].Value == TotalSteps.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            "every progress line counts the whole run's steps");
        return steps;
    }

    [GeneratedRegex(@"step (\d+)/(\d+)")]
    private static partial Regex StepLine();
}
