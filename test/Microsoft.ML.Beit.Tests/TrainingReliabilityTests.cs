using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Long runs that lose nothing: a NaN loss stops (or skips the step) naming the step; a failed checkpoint write keeps the previous one.</summary>
[TestClass]
public sealed class TrainingReliabilityTests
{
    static (MLContext Ml, IDataView Data) Data(int images)
    {
        var ml = new MLContext(seed: 1);
        var rows = FashionMnist.Load("train", images);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows));
        return (ml, keys.Transform(ml.Data.LoadFromEnumerable(rows)));
    }

    // A backbone with finite but enormous patch weights: its activations overflow, so every loss it gives is NaN.
    static string PoisonedBackbone(string folder)
    {
        manual_seed(1);
        using var model = new BeitModel(FinetuneTests.FashionArchitecture());
        using (no_grad()) model.embeddings.patch_embeddings.projection.weight!.fill_(3e38f);
        string directory = Path.Combine(folder, "poisoned");
        BeitCheckpoint.Save(model, directory);
        return directory;
    }

    [TestMethod]
    public void ANonFiniteLossStopsNamingTheStepOrSkipsItByOption()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var (ml, data) = Data(48);
            var options = FinetuneTests.TinyRecipe(epochs: 1);
            options.Model = BeitModelSource.FromPath(PoisonedBackbone(folder));
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "at step 1 (epoch 1)");

            var warnings = new List<string>();
            ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) warnings.Add(e.Message); };
            options.NonFiniteLoss = BeitNonFiniteLossHandling.SkipStep;
            using var model = ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data);
            var skipped = warnings.Where(w => w.Contains("was skipped", StringComparison.Ordinal)).ToList();
            Console.WriteLine($"{skipped.Count} steps skipped; first: {skipped.FirstOrDefault()}");
            Assert.AreEqual(3, skipped.Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void AFailedCheckpointWriteKeepsThePreviousCheckpointAndTrainingGoesOn()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var (ml, data) = Data(96);
            string checkpoints = Path.Combine(folder, "checkpoints");
            Directory.CreateDirectory(checkpoints);
            // Something that is not a folder where the step-4 checkpoint would be written, as a full disk or a read-only mount would fail it.
            File.WriteAllText(Path.Combine(checkpoints, "step-0000004-epoch-000.partial"), "in the way");
            var warnings = new List<string>();
            ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) warnings.Add(e.Message); };
            var options = FinetuneTests.TinyRecipe(epochs: 2);
            options.CheckpointDirectory = checkpoints;
            options.CheckpointEverySteps = 2;
            using var model = ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data);
            var failed = warnings.Single(w => w.Contains("could not write checkpoint", StringComparison.Ordinal));
            Console.WriteLine(failed);
            StringAssert.Contains(failed, "step-0000002-epoch-000, is intact");
            string latest = File.ReadAllText(Path.Combine(checkpoints, "latest")).Trim();
            Console.WriteLine($"training finished; latest checkpoint {latest}");
            Assert.AreEqual("step-0000012-epoch-002", latest);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
