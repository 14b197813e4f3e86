using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Fine-tuning with a frozen backbone (only the head changes, and the zip reloads and scores), and training within a time
/// budget (the best candidate by validation wins, the budget holds, a search resumes from its folder).
/// </summary>
[TestClass]
public sealed class FreezeAndSearchTests
{
    [TestMethod]
    public void AFrozenBackboneKeepsItsWeightsAndOnlyTheHeadLearns()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string backbone = FeaturizerTests.SaveTinyMaskedImageModel(root);
            var ml = new MLContext(seed: 1);
            var train = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 200));
            var options = new BeitFinetuneOptions
            {
                Model = BeitModelSource.FromPath(backbone), FreezeBackbone = true, BatchSize = 32, Seed = 2, Device = "cpu",
                Preprocessor = Preprocessing.BeitPreprocessorConfig.Pt22k(32),
            };
            var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BeitFinetune(options)).Fit(train);
            var classifier = model.LastTransformer;
            Console.WriteLine(classifier.TrainingRecipe);
            StringAssert.Contains(classifier.TrainingRecipe!, "frozen backbone, head only");

            using var original = Checkpoints.BeitCheckpoint.Load(backbone);
            var trained = classifier.TorchEngine.Model.state_dict();
            int compared = 0;
            foreach (var (key, weight) in original.Weights)
            {
                if (!key.StartsWith("beit.", StringComparison.Ordinal) || !trained.TryGetValue(key, out var after) || !after.shape.SequenceEqual(weight.shape)) continue;
                Assert.IsTrue(after.cpu().eq(weight.cpu()).all().item<bool>(), $"backbone weight {key} changed");
                compared++;
            }
            Console.WriteLine($"{compared} backbone tensors unchanged");
            Assert.IsGreaterThan(20, compared);
            // The head learned: its weights moved from the recipe's initialisation and it beats chance on what it trained on.
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(train));
            Console.WriteLine($"training accuracy of the head on frozen random features: {metrics.MicroAccuracy:F3}");
            Assert.IsGreaterThan(0.3, metrics.MicroAccuracy);

            string zip = Path.Combine(root, "frozen.zip");
            ml.Model.Save(model, train.Schema, zip);
            var reloaded = ml.Model.Load(zip, out _);
            var before = ml.Data.CreateEnumerable<FinetuneTests.ScoreOnly>(model.Transform(train), false).Take(8).Select(r => r.Score).ToList();
            var after2 = ml.Data.CreateEnumerable<FinetuneTests.ScoreOnly>(reloaded.Transform(train), false).Take(8).Select(r => r.Score).ToList();
            Assert.HasCount(before.Count, after2);
            for (int i = 0; i < before.Count; i++) CollectionAssert.AreEqual(before[i], after2[i]);
            foreach (var t in (TransformerChain<ITransformer>)reloaded) (t as IDisposable)?.Dispose();
            classifier.Dispose();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void ASearchKeepsTheBestCandidateWithinItsBudgetAndResumesFromItsFolder()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var train = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 300));
            var budget = TimeSpan.FromSeconds(20);
            BeitFinetuneOptions Options() => new()
            {
                Model = BeitModelSource.FromConfig(FinetuneTests.FashionArchitecture()), BatchSize = 32, Seed = 4, Device = "cpu",
                // A short schedule, so that the budget fits it several times and candidates are compared.
                Epochs = 2, TrainTime = budget, CheckpointDirectory = Path.Combine(root, "search"),
            };
            var clock = Stopwatch.StartNew();
            var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BeitFinetune(Options())).Fit(train);
            double seconds = clock.Elapsed.TotalSeconds;
            string recipe = model.LastTransformer.TrainingRecipe!;
            Console.WriteLine($"{seconds:F1} s for a {budget.TotalSeconds} s budget");
            Console.WriteLine(recipe);
            // The budget includes the probe epoch and every candidate; loading the data and the model around it is a second or two more.
            Assert.IsLessThan(budget.TotalSeconds * 1.1 + 3, seconds);

            var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "search", "search.json"))).RootElement;
            var results = state.GetProperty("Results").EnumerateArray().Select(r => (Candidate: r.GetProperty("Candidate").GetInt32(), Metric: r.GetProperty("Metric").GetDouble())).ToList();
            Assert.IsNotEmpty(results);
            Assert.IsGreaterThan(1, state.GetProperty("Candidates").GetArrayLength(), "a budget that fits the schedule several times compares candidates");
            var best = results.OrderByDescending(r => r.Metric).First();
            StringAssert.Contains(recipe, $"* the model: candidate {best.Candidate}", "the leaderboard's winner is the best candidate by validation accuracy");
            model.LastTransformer.Dispose();

            // A second run with the same folder finds the finished search and trains nothing more: the same winner, nothing re-run.
            int recorded = results.Count;
            var again = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BeitFinetune(Options())).Fit(train);
            var resumed = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "search", "search.json"))).RootElement;
            Assert.AreEqual(recorded, resumed.GetProperty("Results").GetArrayLength(), "a resumed search repeats no rung");
            StringAssert.Contains(again.LastTransformer.TrainingRecipe!, $"* the model: candidate {best.Candidate}");
            again.LastTransformer.Dispose();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void ABudgetThatFitsTheRecipeOnlyOnceTrainsTheRecipeAlone()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var train = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 300));
            // From random weights the recipe wants 100 epochs of these 300 images: far more than 12 seconds hold.
            var budget = TimeSpan.FromSeconds(12);
            var options = new BeitFinetuneOptions
            {
                Model = BeitModelSource.FromConfig(FinetuneTests.FashionArchitecture()), BatchSize = 32, Seed = 4, Device = "cpu",
                TrainTime = budget, CheckpointDirectory = Path.Combine(root, "search"),
            };
            var clock = Stopwatch.StartNew();
            var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BeitFinetune(options)).Fit(train);
            Assert.IsLessThan(budget.TotalSeconds * 1.1 + 3, clock.Elapsed.TotalSeconds);

            var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "search", "search.json"))).RootElement;
            Assert.AreEqual(100, state.GetProperty("RecipeEpochs").GetInt32(), "the probe learns the recipe's schedule");
            Assert.AreEqual(1, state.GetProperty("Candidates").GetArrayLength(), "only the recipe trains");
            int epochs = state.GetProperty("Epochs").GetInt32();
            Assert.IsLessThan(100, epochs);
            Assert.IsGreaterThan(2, epochs, "the whole budget goes to the one run");
            StringAssert.Contains(model.LastTransformer.TrainingRecipe!, "* the model: candidate 0");
            model.LastTransformer.Dispose();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
