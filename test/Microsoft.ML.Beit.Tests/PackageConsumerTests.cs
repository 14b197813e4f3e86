using System.IO.Compression;
using System.Xml.Linq;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// An application on ML.NET 6 that references the packed package (restored offline, built outside the repository with
/// NU1608, a dependency outside the package's declared range, as an error) featurizes, fine-tunes, saves, and in a fresh
/// process reloads the model and predicts the same.
/// </summary>
[TestClass]
public sealed class PackageConsumerTests
{
    const string MLNetVersion = "6.0.0";

    [TestMethod]
    public void AnAppOnMLNet6TrainsSavesAndReloadsFromThePackedPackage()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string root = CliReferenceTests.RepositoryRoot();
            Assert.IsFalse(folder.StartsWith(root, StringComparison.Ordinal), "the app must sit outside the repository, beyond its Directory.Build files");

            // The package declares the ML.NET range it supports.
            using (var nupkg = ZipFile.OpenRead(PackedLibrary.Nupkg))
            using (var nuspec = nupkg.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open())
            {
                var dependencies = XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency")
                    .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);
                Console.WriteLine(string.Join(", ", dependencies.Select(d => $"{d.Key} {d.Value}")));
                Assert.AreEqual("[6.0.0, 7.0.0)", dependencies["Microsoft.ML"]);
                Assert.AreEqual("[6.0.0, 7.0.0)", dependencies["Microsoft.ML.ImageAnalytics"]);
            }

            string data = Path.Combine(folder, "images"), app = Path.Combine(folder, "app");
            var examples = FashionMnist.Load("train", 24);
            for (int i = 0; i < examples.Count; i++)
            {
                string directory = Path.Combine(data, examples[i].Label.Replace('/', '_'));
                Directory.CreateDirectory(directory);
                File.WriteAllBytes(Path.Combine(directory, $"{i:D3}.png"), examples[i].Image);
            }
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <WarningsAsErrors>$(WarningsAsErrors);NU1608</WarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Microsoft.ML.Beit" Version="{PackedLibrary.Version}" />
                    <PackageReference Include="Microsoft.ML" Version="{MLNetVersion}" />
                    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ConsumerProgram);

            var (buildCode, buildOutput, buildError) = Processes.Run("dotnet",
                ["build", app, "-v", "q", "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false", .. PackedLibrary.OfflineRestore(Path.Combine(folder, "restored"))],
                TimeSpan.FromMinutes(8));
            Assert.AreEqual(0, buildCode, buildOutput + buildError);
            Assert.DoesNotContain("NU1608", buildOutput + buildError);
            Assert.IsTrue(Directory.Exists(Path.Combine(folder, "restored", "microsoft.ml.beit", PackedLibrary.Version)), "Microsoft.ML.Beit came from the packed package");

            string dll = Path.Combine(app, "bin", "Debug", "net10.0", "consumer.dll"), zip = Path.Combine(folder, "model.zip");
            var train = Processes.Run("dotnet", [dll, "train", data, zip], TimeSpan.FromMinutes(3));
            Console.WriteLine(train.Output + train.Error);
            Assert.AreEqual(0, train.ExitCode, train.Output + train.Error);
            var reload = Processes.Run("dotnet", [dll, "reload", data, zip], TimeSpan.FromMinutes(3));
            Console.WriteLine(reload.Output + reload.Error);
            Assert.AreEqual(0, reload.ExitCode, reload.Output + reload.Error);

            StringAssert.StartsWith(train.Output, $"ML.NET {MLNetVersion}", "the app ran on the ML.NET it asked for");
            StringAssert.StartsWith(reload.Output, $"ML.NET {MLNetVersion}");
            StringAssert.Contains(train.Output, $"featurized {examples.Count} images");
            string[] Predictions(string output) => output.Split('\n').Where(l => l.StartsWith("predict ", StringComparison.Ordinal)).ToArray();
            Assert.HasCount(examples.Count, Predictions(train.Output));
            CollectionAssert.AreEqual(Predictions(train.Output), Predictions(reload.Output), "the reloaded model predicts as the trained one");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Fine-tune, save and featurize with the saved backbone (train), or load (reload); then print each image's prediction.
    const string ConsumerProgram = """
        using System.Reflection;
        using Microsoft.ML;
        using Microsoft.ML.Beit;
        using Microsoft.ML.Beit.Modeling;

        string mode = args[0], data = args[1], zip = args[2];
        var ml = new MLContext(seed: 1);
        Console.WriteLine($"ML.NET {typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion}");
        var rows = Directory.EnumerateFiles(data, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => new Row { Image = p, Label = Path.GetFileName(Path.GetDirectoryName(p)!) }).ToList();
        var images = ml.Data.LoadFromEnumerable(rows);
        var tiny = new BeitConfig { ImageSize = 28, PatchSize = 7, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64 };
        ITransformer model;
        if (mode == "train")
        {
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.MulticlassClassification.Trainers.BeitFinetune(new BeitFinetuneOptions
                {
                    Model = BeitModelSource.FromConfig(tiny), Epochs = 1, BatchSize = 8, LearningRate = 1e-3, WarmupEpochs = 0, LayerDecay = 1,
                    Augment = false, Device = "cpu", Seed = 1,
                }))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
            model = pipeline.Fit(images);
            ml.Model.Save(model, images.Schema, zip);
            // Features from the fine-tuned backbone, read back from the saved zip.
            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Image",
                new BeitFeaturizerOptions { Model = BeitModelSource.FromPath(zip), Device = "cpu", BatchSize = 8 }).Fit(images);
            var features = ml.Data.CreateEnumerable<Featured>(featurizer.Transform(images), reuseRowObject: false).ToList();
            Console.WriteLine($"featurized {features.Count} images, {features[0].Features.Length} features each");
        }
        else
            model = ml.Model.Load(zip, out _);
        foreach (var p in ml.Data.CreateEnumerable<Predicted>(model.Transform(images), reuseRowObject: false))
            Console.WriteLine($"predict {Path.GetFileName(p.Image)} {p.PredictedLabel} {p.Score.Max():F5}");

        sealed class Row { public string Image { get; set; } = ""; public string Label { get; set; } = ""; }
        sealed class Featured { public float[] Features { get; set; } = []; }
        sealed class Predicted { public string Image { get; set; } = ""; public string PredictedLabel { get; set; } = ""; public float[] Score { get; set; } = []; }
        """;
}
