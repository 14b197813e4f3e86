using Microsoft.ML.Beit.Preprocessing;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Images users did not make: each malformed or unusual file decodes to the right size or is refused with an
/// InvalidDataException naming the file; none crashes, hangs or allocates what its header claims.
/// </summary>
[TestClass]
public sealed class HostileImageTests
{
    [TestMethod]
    public void EveryHostileImageDecodesOrIsRefusedNamingTheFile()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            int decoded = 0, refused = 0;
            var cases = HostileImages.All().ToList();
            foreach (var c in cases)
            {
                string path = Path.Combine(folder, c.Name);
                File.WriteAllBytes(path, c.Bytes);
                try
                {
                    var image = RgbImage.Load(path);
                    Console.WriteLine($"{c.Name,-28} decoded {image.Width}x{image.Height}");
                    Assert.IsNotNull(c.Decodes, $"{c.Name} should have been refused but decoded as {image.Width}x{image.Height}");
                    Assert.AreEqual(c.Decodes, (image.Width, image.Height), c.Name);
                    Assert.AreEqual(image.Width * image.Height * 3, image.Pixels.Length);
                    decoded++;
                }
                catch (InvalidDataException e)
                {
                    Console.WriteLine($"{c.Name,-28} refused: {e.Message}");
                    Assert.IsNull(c.Decodes, $"{c.Name} should decode but: {e.Message}");
                    StringAssert.Contains(e.Message, path);
                    refused++;
                }
            }
            Console.WriteLine($"{cases.Count} files: {decoded} decoded, {refused} refused with the file named");
            Assert.IsGreaterThanOrEqualTo(30, cases.Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A featurized row.</summary>
    public sealed class Featurized
    {
        /// <summary>The features.</summary>
        public float[] Features { get; set; } = [];
    }

    /// <summary>A path row.</summary>
    public sealed class PathRow
    {
        /// <summary>The path.</summary>
        public string Path { get; set; } = "";
    }

    [TestMethod]
    public void AFeaturizerThatSkipsInvalidImagesGivesNaNRowsAndKeepsTheRest()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var paths = new List<PathRow>();
            foreach (var c in HostileImages.All())
            {
                string path = Path.Combine(folder, c.Name);
                File.WriteAllBytes(path, c.Bytes);
                paths.Add(new PathRow { Path = path });
            }
            using (var model = TinyModels.Randomize(new Modeling.BeitModel(TinyModels.Config())))
                Checkpoints.BeitCheckpoint.Save(model, Path.Combine(folder, "model"));
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths);
            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromPath(Path.Combine(folder, "model")), InvalidImage = BeitInvalidImageHandling.Skip, BatchSize = 4,
            }).Fit(data);
            var rows = ml.Data.CreateEnumerable<Featurized>(featurizer.Transform(data), false).ToList();
            var expected = HostileImages.All().Select(c => c.Decodes is not null).ToList();
            int skipped = rows.Count(r => r.Features.All(float.IsNaN));
            Console.WriteLine($"{rows.Count} rows: {rows.Count - skipped} featurized, {skipped} skipped as NaN");
            Assert.HasCount(paths.Count, rows, "one row per input row, skipped images included");
            Assert.AreEqual(expected.Count(ok => !ok), skipped, "every image that does not decode, and only those, gives a NaN row");
            Assert.IsTrue(expected.Any(ok => ok) && expected.Any(ok => !ok), "the cases hold both images that decode and images that do not");
            for (int i = 0; i < rows.Count; i++)
                Assert.AreEqual(expected[i], rows[i].Features.All(float.IsFinite), paths[i].Path);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
