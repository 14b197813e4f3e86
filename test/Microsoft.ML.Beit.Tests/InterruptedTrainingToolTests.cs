using System.Diagnostics;
using System.Text.Json;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The tool interrupted as users interrupt it: Ctrl+C during training saves the best model so far, and a killed time-budget
/// search resumes from its checkpoint folder without repeating the rungs it finished.
/// </summary>
[TestClass]
public sealed class InterruptedTrainingToolTests
{
    static Process Start(string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[BeitToolTests.ToolPath(), .. arguments]) start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }

    static void WaitFor(Func<bool> condition, Process process, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3)) Thread.Sleep(50);
        Assert.IsTrue(condition(), $"{what} never happened (the tool {(process.HasExited ? $"exited with {process.ExitCode}" : "was still running")})");
    }

    static string FashionFolders(string root)
    {
        string images = Path.Combine(root, "fm");
        var (code, _, error) = BeitToolTests.Beit("fashion-mnist", "--data", FashionMnist.Directory, "--output", images, "--train-images", "300", "--test-images", "30");
        Assert.AreEqual(0, code, error);
        return images;
    }

    [TestMethod]
    public void CtrlCSavesTheModelTrainedSoFar()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string images = FashionFolders(root), zip = Path.Combine(root, "model.zip"), checkpoints = Path.Combine(root, "checkpoints");
            using var process = Start(["finetune", "--data", Path.Combine(images, "train"), "--model", "tiny", "--epochs", "200", "--seed", "3",
                "--checkpoint-directory", checkpoints, "--output", zip]);
            var error = new System.Text.StringBuilder();
            process.ErrorDataReceived += (_, e) => { lock (error) error.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            WaitFor(() => File.Exists(Path.Combine(checkpoints, "latest")), process, "a first checkpoint");
            Assert.IsFalse(process.HasExited, "200 epochs cannot be over by the first checkpoint");
            using (var signal = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) signal.WaitForExit();
            Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(2)), "the tool ended after Ctrl+C");
            string log;
            lock (error) log = error.ToString();
            Console.WriteLine(log.Replace("\r", "\n").Split('\n').Where(l => l.Contains("cancelled") || l.StartsWith("error")).FirstOrDefault());
            Assert.AreEqual(0, process.ExitCode, log);
            StringAssert.Contains(log, "training was cancelled after step");
            Assert.IsTrue(File.Exists(zip), "the model trained so far was saved");
            var (code, predictions, predictError) = BeitToolTests.Beit("predict", "--model", zip, "--images", Path.Combine(images, "test"));
            Assert.AreEqual(0, code, predictError);
            Assert.HasCount(30, predictions.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains(".png")).ToList());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void AKilledSearchResumesWithoutRepeatingItsRungs()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string images = FashionFolders(root), folder = Path.Combine(root, "search"), state = Path.Combine(folder, "search.json");
            string[] arguments = ["finetune", "--data", Path.Combine(images, "train"), "--model", "tiny", "--train-time", "40", "--seed", "5",
                "--checkpoint-directory", folder, "--output", Path.Combine(root, "model.zip")];
            int Results() => File.Exists(state) ? JsonDocument.Parse(File.ReadAllText(state)).RootElement.GetProperty("Results").GetArrayLength() : 0;
            int before;
            using (var process = Start(arguments))
            {
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                WaitFor(() => Results() >= 1, process, "a first finished rung");
                bool killed = !process.HasExited;
                if (killed) process.Kill(entireProcessTree: true);
                process.WaitForExit();
                before = Results();
                Console.WriteLine($"{(killed ? "killed" : "finished before the kill")} with {before} rung(s) recorded");
            }
            var first = JsonDocument.Parse(File.ReadAllText(state)).RootElement.GetProperty("Results").EnumerateArray()
                .Select(r => (r.GetProperty("Candidate").GetInt32(), r.GetProperty("Rung").GetInt32())).ToList();

            var (code, output, error) = BeitToolTests.Beit(arguments);
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(error, "resuming the search");
            StringAssert.Contains(error, "search leaderboard");
            var after = JsonDocument.Parse(File.ReadAllText(state)).RootElement;
            var rungs = after.GetProperty("Results").EnumerateArray().Select(r => (r.GetProperty("Candidate").GetInt32(), r.GetProperty("Rung").GetInt32())).ToList();
            CollectionAssert.AreEqual(first, rungs.Take(first.Count).ToList(), "the rungs finished before the kill are kept as they were");
            Assert.AreEqual(rungs.Count, rungs.Distinct().Count(), "no rung ran twice");
            double elapsed = after.GetProperty("ElapsedSeconds").GetDouble();
            Console.WriteLine($"{rungs.Count} rungs, {elapsed:F1} s of the 40 s budget spent over both runs");
            Assert.IsLessThan(40 * 1.1, elapsed, "the budget counts the time before the kill too");
            Assert.IsTrue(File.Exists(Path.Combine(root, "model.zip")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
