using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Device "auto" follows the MLContext's GpuDeviceId and FallbackToCpu, as ML.NET's TorchSharp trainers do. The GPU id used
/// here, 99, names a device no machine has, so the paths are the same with or without CUDA.
/// </summary>
[TestClass]
public sealed class MLContextDeviceTests
{
    const int Absent = 99;

    [TestMethod]
    public void TheContextsGpuSettingsReachTheHostsItsComponentsGet()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = 3, FallbackToCpu = true };
        Assert.AreEqual((3, true), MLNetInternals.GpuChoice(ml));
        Assert.AreEqual((3, true), MLNetInternals.GpuChoice(((IHostEnvironment)ml).Register("BeitFinetuneTrainer")));
        Assert.AreEqual(((int?)null, false), MLNetInternals.GpuChoice(new MLContext(seed: 1)), "a new MLContext asks for no GPU and no fallback");

        Assert.AreEqual("auto", BeitDevice.ForContext("auto", new MLContext(seed: 1)), "without a GPU id, auto stays CUDA-when-available");
        Assert.AreEqual("cpu", BeitDevice.ForContext("cpu", new MLContext(seed: 1) { GpuDeviceId = Absent }), "an explicit device wins over the context");
    }

    [TestMethod]
    public void AGpuIdWithoutThatDeviceFailsClearlyWhenTheContextDoesNotFallBack()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = Absent, FallbackToCpu = false };
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Images(ml)).Transform(Images(ml));
        var options = FinetuneTests.TinyRecipe(epochs: 1);
        options.Device = "auto";
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, $"MLContext.GpuDeviceId is {Absent}, but ");
        StringAssert.Contains(error.Message, "MLContext.FallbackToCpu = true");
        StringAssert.Contains(error.Message, "Device to 'cpu'");

        var featurize = ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions { Model = options.Model });
        error = Assert.ThrowsExactly<InvalidOperationException>(() => featurize.Fit(data));
        StringAssert.Contains(error.Message, $"MLContext.GpuDeviceId is {Absent}, but ");
    }

    [TestMethod]
    public void AGpuIdWithoutThatDeviceWarnsAndTrainsOnTheCpuWhenTheContextFallsBack()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = Absent, FallbackToCpu = true };
        var warnings = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.RawMessage);
        };
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Images(ml)).Transform(Images(ml));
        var options = FinetuneTests.TinyRecipe(epochs: 1);
        options.Device = "auto";
        using var classifier = ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data);
        var scores = classifier.Transform(data).GetColumn<float[]>("Score").ToList();
        Assert.HasCount(16, scores);
        string checkpoint = TinyModels.TempDirectory();
        try
        {
            using (var backbone = new Modeling.BeitModel(FinetuneTests.FashionArchitecture())) Checkpoints.BeitCheckpoint.Save(backbone, checkpoint);
            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions { Model = BeitModelSource.FromPath(checkpoint) }).Fit(data);
            Assert.HasCount(16, featurizer.Transform(data).GetColumn<float[]>("Features").ToList());
        }
        finally
        {
            Directory.Delete(checkpoint, recursive: true);
        }

        Console.WriteLine(string.Join("\n", warnings));
        var fellBack = warnings.Where(w => w.StartsWith($"MLContext.GpuDeviceId is {Absent}, but ", StringComparison.Ordinal)).ToList();
        Assert.HasCount(2, fellBack, "the trainer and the featurizer each warn once");
        Assert.IsTrue(fellBack.All(w => w.EndsWith("so this runs on the CPU.", StringComparison.Ordinal)), fellBack[0]);
    }

    static IDataView Images(MLContext ml) => ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 16));
}
