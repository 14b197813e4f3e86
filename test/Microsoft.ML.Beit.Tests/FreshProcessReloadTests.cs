using System.Globalization;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Featurizer zips of every kind (ONNX Runtime backend, the result of pretraining) reload in a fresh process, the beit
/// tool's, through MLContext.Model.Load with no registration call, and give the features they gave when saved.
/// </summary>
[TestClass]
public sealed class FreshProcessReloadTests
{
    [TestMethod]
    [DataRow("onnx featurizer")]
    [DataRow("pretraining featurizer")]
    public void AFeaturizerZipGivesTheSameFeaturesInAFreshProcess(string kind)
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string images = Path.Combine(folder, "images");
            Directory.CreateDirectory(images);
            var paths = FeaturizerTests.WriteRandomImages(images, count: 5, width: 40, height: 30);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            var load = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path");
            ITransformer model = kind == "onnx featurizer"
                ? load.Append(ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions
                {
                    Model = BeitModelSource.FromDirectory(FeaturizerTests.SaveTinyMaskedImageModel(folder)), Backend = BeitBackend.Onnx, Device = "cpu",
                })).Fit(data)
                // Encoded bytes: pretraining shuffles its input, and ML.NET's shuffle drops the image columns of LoadImages.
                : ml.Transforms.LoadRawImageBytes("Image", imageFolder: null, inputColumnName: "Path").Append(ml.Transforms.BeitPretrain(new BeitPretrainOptions
                {
                    Model = BeitModelSource.FromConfig(FinetuneTests.FashionArchitecture()), Tokenizer = new OptionValidationTests.GridTokenizer(),
                    Epochs = 1, BatchSize = 4, Seed = 1, Device = "cpu",
                })).Fit(data);
            var expected = ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(model.Transform(data), false).ToDictionary(r => r.Path, r => r.Features);
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, data.Schema, zip);
            (model as IDisposable)?.Dispose();

            string csv = Path.Combine(folder, "features.csv");
            var (exitCode, stdout, stderr) = BeitToolTests.Beit("featurize", "--model", zip, "--images", images, "--output", csv);
            Assert.AreEqual(0, exitCode, stderr + stdout);
            var lines = File.ReadAllLines(csv);
            Assert.HasCount(paths.Count + 1, lines, "a header and a row per image");
            double worst = 0;
            foreach (var line in lines.Skip(1))
            {
                var cells = line.Split(',');
                Assert.IsTrue(expected.ContainsKey(cells[0]), $"an image the model saw: {cells[0]}");
                var features = cells.Skip(1).Select(c => float.Parse(c, CultureInfo.InvariantCulture)).ToArray();
                worst = Math.Max(worst, TrainingSteps.MaxAbsDiff(expected[cells[0]], features));
            }
            Console.WriteLine($"{kind}: {expected.First().Value.Length} features per image; fresh process vs when saved: max abs diff {worst:E2}");
            Assert.AreEqual(0.0, worst, "the same weights on the same engine give the same features");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
