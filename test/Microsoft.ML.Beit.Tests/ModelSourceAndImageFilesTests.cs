using Microsoft.ML.Beit.Modeling;

namespace Microsoft.ML.Beit.Tests;

/// <summary>The one reading of "preset or path" (<see cref="BeitModelSource.Parse"/>) and the one list of image extensions.</summary>
[TestClass]
public sealed class ModelSourceAndImageFilesTests
{
    [TestMethod]
    public void ParseReadsPresetsConfigsAndPaths()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            Assert.AreEqual("tiny", BeitModelSource.Parse("tiny").Preset);
            Assert.AreEqual("Base", BeitModelSource.Parse("Base").Preset, "any case");
            string config = Path.Combine(folder, "arch.json");
            TinyModels.Config().Save(config);
            var fromConfig = BeitModelSource.Parse(config);
            Assert.IsNotNull(fromConfig.Config);
            Assert.AreEqual(32, fromConfig.Config.ImageSize);
            Assert.AreEqual(Path.Combine(folder, "model.zip"), BeitModelSource.Parse(Path.Combine(folder, "model.zip")).Path);
            // A folder that happens to be named like a preset is a path.
            Directory.CreateDirectory(Path.Combine(folder, "large"));
            Assert.AreEqual(Path.Combine(folder, "large"), BeitModelSource.Parse(Path.Combine(folder, "large")).Path);
            Assert.ThrowsExactly<ArgumentException>(() => BeitModelSource.Parse(" "));
            // A mistyped preset is named as one, with what a bare name can be.
            var mistyped = Assert.ThrowsExactly<ArgumentException>(() => BeitModelSource.Parse("huge"));
            StringAssert.Contains(mistyped.Message, "tiny, base, large");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ImageFilesAreFoundByOneListInOrdinalOrder()
    {
        CollectionAssert.AreEqual(new[] { ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp" }, BeitImageFiles.Extensions.ToArray());
        Assert.IsTrue(BeitImageFiles.IsImage("photo.JPG"));
        Assert.IsFalse(BeitImageFiles.IsImage("notes.txt"));
        string folder = TinyModels.TempDirectory();
        try
        {
            foreach (string name in new[] { "b.png", "A.gif", "notes.txt", Path.Combine("sub", "c.webp") })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, name))!);
                File.WriteAllBytes(Path.Combine(folder, name), []);
            }
            CollectionAssert.AreEqual(new[] { "A.gif", "b.png", Path.Combine("sub", "c.webp") },
                BeitImageFiles.Find(folder).Select(f => Path.GetRelativePath(folder, f)).ToArray());
            Assert.HasCount(2, BeitImageFiles.Find(folder, recursive: false));
            Assert.ThrowsExactly<DirectoryNotFoundException>(() => BeitImageFiles.Find(Path.Combine(folder, "missing")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
