using System.IO.Compression;
using System.Text;
using Microsoft.ML.Beit.Checkpoints;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Pickled checkpoints are read without executing anything they contain.</summary>
[TestClass]
public sealed class PickleSafetyTests
{
    [TestMethod]
    public void AReduceOfOsSystemRunsNothingAndIsRejectedAsNotATensor()
    {
        string directory = TinyModels.TempDirectory();
        string marker = Path.Combine(directory, "pwned");
        string file = Path.Combine(directory, "evil.pth");
        try
        {
            // {"weight": os.system("touch <marker>")} in pickle protocol 2, inside a torch.save zip.
            var pickle = new List<byte> { 0x80, 0x02, (byte)'}' };
            AddUnicode(pickle, "weight");
            pickle.AddRange(Encoding.ASCII.GetBytes("cos\nsystem\n"));
            AddUnicode(pickle, $"touch {marker}");
            pickle.AddRange([0x85, (byte)'R', (byte)'s', (byte)'.']);
            using (var zip = ZipFile.Open(file, ZipArchiveMode.Create))
            {
                using (var entry = zip.CreateEntry("evil/data.pkl").Open()) entry.Write(pickle.ToArray());
                using (var version = zip.CreateEntry("evil/version").Open()) version.Write("3\n"u8);
            }

            var error = Assert.ThrowsExactly<InvalidDataException>(() => BeitCheckpoint.Load(file));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "'weight'");
            StringAssert.Contains(error.Message, "not a tensor");
            Assert.IsFalse(File.Exists(marker), "nothing in the pickle may run");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void ATruncatedPthNamesTheFile()
    {
        string source = Path.Combine(ReferenceData.Case("unilm-finetune-tiny"), "weights.pth");
        string directory = TinyModels.TempDirectory();
        try
        {
            string file = Path.Combine(directory, "truncated.pth");
            byte[] bytes = File.ReadAllBytes(source);
            File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => BeitCheckpoint.Load(file));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, file);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    static void AddUnicode(List<byte> pickle, string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        pickle.Add((byte)'X');
        pickle.AddRange(BitConverter.GetBytes(utf8.Length));
        pickle.AddRange(utf8);
    }
}
