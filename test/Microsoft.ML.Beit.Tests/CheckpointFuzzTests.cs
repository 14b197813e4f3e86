using System.IO.Compression;
using System.Text;
using Microsoft.ML.Beit.Checkpoints;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Hostile checkpoints: crafted safetensors headers and a seeded mutation fuzzer over the reference checkpoints. Every
/// input loads or is refused with InvalidDataException (or a key mismatch); nothing crashes, hangs or throws anything else.
/// </summary>
[TestClass]
public sealed class CheckpointFuzzTests
{
    static byte[] Safetensors(string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[dataBytes]];
    }

    [TestMethod]
    public void CraftedSafetensorsAreRefusedWithTheReason()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var cases = new (string Name, byte[] Bytes, string Expected)[]
            {
                ("header-beyond-file", [.. BitConverter.GetBytes(1_000_000UL), .. "{}"u8.ToArray()], "does not fit the file"),
                ("invalid-json", Safetensors("{\"a\": [", 0), "not valid JSON"),
                ("not-an-object", Safetensors("[1, 2]", 0), "not a JSON object"),
                ("unknown-dtype", Safetensors("""{"w": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}""", 1), "dtype 'Q8'"),
                ("offsets-outside", Safetensors("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}""", 8), "outside the file"),
                ("negative-shape", Safetensors("""{"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}""", 16), "no valid shape"),
                ("shape-bigger-than-data", Safetensors("""{"w": {"dtype": "F32", "shape": [1000000000, 1000000000], "data_offsets": [0, 16]}}""", 16), "data range holds 16 bytes"),
                ("overlapping", Safetensors("""{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}""", 24), "overlap"),
                ("nan-weights", WithNaN(), "'beit.embeddings.cls_token' holds NaN or infinite values"),
                ("invalid-utf8", [.. BitConverter.GetBytes(8UL), 0x7B, 0x22, 0xE5, 0x80, 0x22, 0x3A, 0x31, 0x7D], "not valid UTF-8"),
            };
            foreach (var (name, bytes, expected) in cases)
            {
                string path = Path.Combine(folder, name + ".safetensors");
                File.WriteAllBytes(path, bytes);
                var error = Assert.ThrowsExactly<InvalidDataException>(() => BeitCheckpoint.Load(path), name);
                Console.WriteLine($"{name,-24} {error.Message}");
                StringAssert.Contains(error.Message, expected, name);
                StringAssert.Contains(error.Message, path, name);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // A random tiny model's weights with one NaN in the CLS token (no reference data needed, so the crafted cases never skip).
    static byte[] WithNaN()
    {
        using var model = TinyModels.Randomize(new Modeling.BeitForImageClassification(TinyModels.Config()));
        using var scope = TorchSharp.torch.NewDisposeScope();
        var weights = model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        weights["beit.embeddings.cls_token"].view(-1)[0] = TorchSharp.torch.tensor(float.NaN);
        using var stream = new MemoryStream();
        SafetensorsFile.Write(stream, weights);
        return stream.ToArray();
    }

    [TestMethod]
    public void APickleStorageKeyThatIsAPathIsRefused()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            // {"w": persistent_load(("storage", FloatStorage, "../data.pkl", "cpu", 1))}: a storage key pointing outside data/.
            var pickle = new List<byte> { 0x80, 0x02, (byte)'}' };
            void Unicode(string text)
            {
                var utf8 = Encoding.UTF8.GetBytes(text);
                pickle.Add((byte)'X');
                pickle.AddRange(BitConverter.GetBytes(utf8.Length));
                pickle.AddRange(utf8);
            }
            Unicode("w");
            pickle.AddRange("ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray());
            pickle.Add((byte)'(');
            pickle.Add((byte)'(');
            Unicode("storage");
            pickle.AddRange("ctorch\nFloatStorage\n"u8.ToArray());
            Unicode("../data.pkl");
            Unicode("cpu");
            pickle.AddRange([(byte)'K', 1, (byte)'t', (byte)'Q']);
            pickle.AddRange([(byte)'K', 0, (byte)'K', 1, 0x85, (byte)'K', 1, 0x85, 0x89, (byte)')', (byte)'t', (byte)'R', (byte)'s', (byte)'.']);
            string file = Path.Combine(folder, "traversal.pth");
            using (var zip = ZipFile.Open(file, ZipArchiveMode.Create))
            {
                using (var entry = zip.CreateEntry("archive/data.pkl").Open()) entry.Write(pickle.ToArray());
                using (var data = zip.CreateEntry("archive/data/0").Open()) data.Write(new byte[4]);
            }
            var error = Assert.ThrowsExactly<InvalidDataException>(() => BeitCheckpoint.Load(file));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "../data.pkl");

            // An archive whose folder is itself a path out of the archive.
            string escaping = Path.Combine(folder, "escaping.pth");
            using (var zip = ZipFile.Open(escaping, ZipArchiveMode.Create))
            using (var entry = zip.CreateEntry("../data.pkl").Open())
                entry.Write(pickle.ToArray());
            error = Assert.ThrowsExactly<InvalidDataException>(() => BeitCheckpoint.Load(escaping));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "leaves the archive");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [DataRow("hf-layout-tiny", "weights.safetensors", 400)]
    [DataRow("unilm-finetune-tiny", "weights.pth", 300)]
    public void SeededMutationsOfAReferenceCheckpointLoadOrAreRefused(string caseName, string file, int mutations)
    {
        byte[] original = File.ReadAllBytes(Path.Combine(ReferenceData.Case(caseName), file));
        string folder = TinyModels.TempDirectory();
        try
        {
            var random = new Random(2026);
            int loaded = 0, refused = 0, namingTheFile = 0;
            var kinds = new Dictionary<string, int>();
            string config = Path.Combine(ReferenceData.Case("hf-layout-tiny"), "config.json");
            for (int i = 0; i < mutations; i++)
            {
                var mutated = Mutate(original, random);
                string path = Path.Combine(folder, $"m{i}{Path.GetExtension(file)}");
                File.WriteAllBytes(path, mutated);
                // "Never hangs": each load runs against a guard far above its usual milliseconds; a hang fails naming the mutation.
                var load = Task.Run(() =>
                {
                    using var checkpoint = BeitCheckpoint.Load(path, new BeitCheckpointOptions { ConfigPath = config });
                });
                if (!((IAsyncResult)load).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60)))
                    Assert.Fail($"mutation {i} of {caseName}/{file} did not finish loading within 60 s (a hang); the file is {path}");
                switch (load.Exception?.InnerException)
                {
                    case null:
                        loaded++;
                        break;
                    case Exception e when e is InvalidDataException or BeitCheckpointMismatchException:
                        refused++;
                        string kind = e.GetType().Name;
                        kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
                        if (e.Message.Contains(path, StringComparison.Ordinal)) namingTheFile++;
                        break;
                    case Exception e:
                        Assert.Fail($"mutation {i} of {caseName}/{file} threw {e.GetType().Name}, neither a load nor a refusal: {e}");
                        break;
                }
                File.Delete(path);
            }
            Console.WriteLine($"{caseName}/{file}: {mutations} mutations, {loaded} still loaded, {refused} refused ({string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}), " +
                $"{namingTheFile} refusals name the file; no other exception, crash or hang");
            // The mutations reach both outcomes: some files are broken beyond loading, some changes only touch values.
            Assert.IsGreaterThan(0, refused, "no mutation was refused: the mutator or the checks do nothing");
            Assert.AreEqual(refused, namingTheFile, "every refusal names the file");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // One to four of: flip a byte, truncate, insert random bytes, overwrite a run with 0xFF, or change a digit in the first 4 KiB (headers, pickles).
    static byte[] Mutate(byte[] source, Random random)
    {
        var bytes = new List<byte>(source);
        int edits = random.Next(1, 5);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(random.Next(2) == 0 ? Math.Min(4096, bytes.Count) : bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes.RemoveRange(at, bytes.Count - at); break;
                case 2: bytes.InsertRange(at, Enumerable.Range(0, random.Next(1, 16)).Select(_ => (byte)random.Next(256))); break;
                case 3: for (int k = at; k < Math.Min(bytes.Count, at + random.Next(1, 64)); k++) bytes[k] = 0xFF; break;
                default: if (bytes[at] is >= (byte)'0' and <= (byte)'9') bytes[at] = (byte)('0' + random.Next(10)); else bytes[at] = (byte)random.Next(256); break;
            }
        }
        return [.. bytes];
    }
}
