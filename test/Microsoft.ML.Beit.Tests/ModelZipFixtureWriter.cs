using System.Text.Json;
using Microsoft.ML.Beit.Segmentation;

namespace Microsoft.ML.Beit.Tests;

// Writes Fixtures/model-zips with the library as it is (run once, with BEIT_WRITE_ZIP_FIXTURES=1).
[TestClass]
public sealed class ModelZipFixtureWriter
{
    [TestMethod]
    public void WriteFixtures()
    {
        if (Environment.GetEnvironmentVariable("BEIT_WRITE_ZIP_FIXTURES") != "1") Assert.Inconclusive("BEIT_WRITE_ZIP_FIXTURES is not 1");
        string folder = Path.GetFullPath(ModelZipFixtureTests.Folder);
        Directory.CreateDirectory(folder);
        var ml = new MLContext(seed: 1);
        var rows = FashionMnist.Load("train", 32).Select(e => new ModelZipFixtureTests.ImageRow { Image = e.Image, Label = e.Label }).ToList();
        var raw = ml.Data.LoadFromEnumerable(rows);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw);
        using (var classifier = ml.MulticlassClassification.Trainers.BeitFinetune(new BeitFinetuneOptions
        {
            Model = BeitModelSource.FromConfig(ModelZipFixtureTests.Architecture()),
            Epochs = 1, BatchSize = 8, LearningRate = 1e-3, WarmupEpochs = 0, LayerDecay = 1, DropPath = 0, Augment = false, Seed = 3, Device = "cpu",
        }).Fit(keys.Transform(raw)))
            ml.Model.Save(keys.Append(classifier), raw.Schema, Path.Combine(folder, "classifier.zip"));

        var loaded = ml.Model.Load(Path.Combine(folder, "classifier.zip"), out var schema);
        var onnx = ml.Model.ToOnnxBackend(loaded, "cpu");
        ml.Model.Save(onnx, schema, Path.Combine(folder, "classifier-onnx.zip"));
        foreach (var t in ((IEnumerable<ITransformer>)loaded).Concat((IEnumerable<ITransformer>)onnx)) (t as IDisposable)?.Dispose();

        using (var featurizer = ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions
        {
            Model = BeitModelSource.FromPath(Path.Combine(folder, "classifier.zip")), Pooling = BeitPooling.Mean, NormalizeL2 = true, Device = "cpu",
        }).Fit(raw))
            ml.Model.Save(featurizer, raw.Schema, Path.Combine(folder, "featurizer.zip"));

        var (_, _, root) = ModelZipFixtureTests.Inputs(ml);
        var config = ModelZipFixtureTests.Architecture();
        config.SetLabels(["background", "Trouser", "Bag"]);
        var training = ml.Data.LoadFromEnumerable(SegmentationFolder.Read(root, "training").Select(s => new SegmentationTrainingTests.Row { Image = s.ImagePath, Label = s.LabelPath }).ToList());
        using (var segmenter = ml.SemanticSegmentation().Trainers.Beit(new BeitSegmentationOptions
        {
            Model = BeitModelSource.FromConfig(config), ClassNames = ["background", "Trouser", "Bag"], ScoreColumnName = "Score",
            Epochs = 1, BatchSize = 8, LearningRate = 1e-3, LayerDecay = 1, Seed = 2, Device = "cpu",
        }).Fit(training))
            ml.Model.Save(segmenter, training.Schema, Path.Combine(folder, "segmenter.zip"));
        Directory.Delete(root, recursive: true);

        var expected = ModelZipFixtureTests.Score(ml, folder);
        File.WriteAllText(Path.Combine(folder, "expected.json"), JsonSerializer.Serialize(expected, new JsonSerializerOptions { WriteIndented = false }) + "\n");
        foreach (var (name, values) in expected) Console.WriteLine($"{name}: {values.Length} values, first {values.FirstOrDefault()}");
    }
}
