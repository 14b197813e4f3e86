namespace Microsoft.ML.Beit.Tests;

/// <summary>Where the reference data comes from: a configured folder that is missing fails the tests that need it, never skips them.</summary>
[TestClass]
public sealed class ReferenceDataTests
{
    [TestMethod]
    public void AConfiguredReferenceFolderThatIsMissingFailsRatherThanSkips()
    {
        string missing = Path.Combine(Path.GetTempPath(), "beit-no-such-reference-" + Guid.NewGuid().ToString("N"));
        var error = Assert.ThrowsExactly<AssertFailedException>(() => ReferenceData.Case("masking", missing));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "BEIT_REFERENCE_DIR is set to");
        StringAssert.Contains(error.Message, missing);
    }

    [TestMethod]
    public void AConfiguredReferenceFolderIsUsedAndAMissingCaseInItFails()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "masking"));
            Assert.AreEqual(Path.Combine(folder, "masking"), ReferenceData.Case("masking", folder));
            var error = Assert.ThrowsExactly<AssertFailedException>(() => ReferenceData.Case("no-such-case", folder));
            StringAssert.Contains(error.Message, "no case 'no-such-case'");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
