using System.Diagnostics;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// <c>beit featurize</c> to Parquet, whole and in shards: shard processes run side by side, one is killed and one part is
/// damaged, a re-run redoes only those, and the union of the parts equals a single run row for row.
/// </summary>
[TestClass]
public sealed class FeatureShardToolTests
{
    const int Shards = 3;

    public sealed class FeatureRow
    {
        public string path { get; set; } = "";
        public float[] features { get; set; } = [];
    }

    [TestMethod]
    public void KilledAndDamagedShardsAreRedoneAndThePartsEqualASingleRun()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string model = FeaturizerTests.SaveTinyMaskedImageModel(root);
            string manifest = WriteManifest(root, count: 11);
            // Batches of one image: every image goes through the same computation in every run, so features compare exactly.
            string[] Featurize(params string[] more) => ["featurize", "--model", model, "--manifest", manifest, "--batch-size", "1", .. more];

            string single = Path.Combine(root, "single.parquet");
            var (code, output, error) = BeitToolTests.Beit(Featurize("--output", single));
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "Images 11");

            // The three shards side by side, as the pods of an Indexed Job run; shard 1 is killed as soon as it has said which rows
            // it has, before its part can be complete.
            string parts = Path.Combine(root, "parts");
            var processes = Enumerable.Range(0, Shards).Select(k => Start(Featurize("--shard", $"auto/{Shards}", "--output", parts), k)).ToList();
            var guard = Stopwatch.StartNew();
            while (!Text(processes[1].Output).Contains("Shard 1/3") && !processes[1].Process.HasExited && guard.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(5);
            bool killed = !processes[1].Process.HasExited;
            processes[1].Process.Kill(entireProcessTree: true);
            foreach (var (process, stdout, stderr) in processes)
            {
                Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(2)), "a shard did not finish in two minutes");
                process.WaitForExit();
                Console.Write(Text(stdout));
                if (process != processes[1].Process) Assert.AreEqual(0, process.ExitCode, Text(stderr));
                process.Dispose();
            }
            string Part(int k) => Path.Combine(parts, $"part-{k}-of-{Shards}.parquet");
            Console.WriteLine($"shard 1 killed while running: {killed}; its part is there: {File.Exists(Part(1))}");
            if (File.Exists(Part(1))) Assert.HasCount(4, Read(Part(1)).Rows, "a part that is there is complete");

            // What a run killed while writing leaves (its temporary file), and a part damaged after the fact (cut in half).
            File.WriteAllBytes(Path.Combine(parts, $".part-1-of-{Shards}.parquet.0123456789abcdef.tmp"), [1, 2, 3]);
            var bytes = File.ReadAllBytes(Part(2));
            File.WriteAllBytes(Part(2), bytes[..(bytes.Length / 2)]);

            var rerun = new List<string>();
            for (int k = 0; k < Shards; k++)
            {
                (code, output, error) = BeitToolTests.Beit(Featurize("--shard", $"{k}/{Shards}", "--output", parts));
                Console.Write(output);
                Assert.AreEqual(0, code, error);
                rerun.Add(output + error);
            }
            StringAssert.Contains(rerun[0], "Skipped", "the complete part 0 is skipped");
            StringAssert.Contains(rerun[1], "Images 4", "the killed shard is featurized");
            StringAssert.Contains(rerun[2], "not a readable Parquet file", "the damaged part is noticed");
            StringAssert.Contains(rerun[2], "Images 4", "and featurized again");
            CollectionAssert.AreEqual(Enumerable.Range(0, Shards).Select(k => Path.GetFileName(Part(k))).ToList(),
                Directory.GetFiles(parts).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList(), "only the parts are left");

            var expected = Read(single);
            var union = Enumerable.Range(0, Shards).SelectMany(k => Read(Part(k)).Rows).ToList();
            Assert.HasCount(expected.Rows.Count, union);
            double worst = 0;
            for (int i = 0; i < union.Count; i++)
            {
                Assert.AreEqual(expected.Rows[i].path, union[i].path, $"row {i}");
                Assert.HasCount(expected.Rows[i].features.Length, union[i].features, $"features of row {i}");
                worst = Math.Max(worst, expected.Rows[i].features.Zip(union[i].features).Max(p => Math.Abs(p.First - p.Second)));
            }
            Console.WriteLine($"{union.Count} rows in {Shards} parts equal the single run's paths; features max abs diff {worst:E2}");
            Assert.AreEqual(0.0, worst);

            var metadata = Read(Part(1)).Metadata;
            Assert.AreEqual(model, metadata["beit.model"]);
            Assert.AreEqual("Mean", metadata["beit.pooling"]);
            Assert.AreEqual("48", metadata["beit.feature_size"]);
            Assert.AreEqual("1/3", metadata["beit.shard"]);
            Assert.AreEqual("3-6 of 11", metadata["beit.shard_rows"]);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void AParquetManifestGivesTheFeaturesOfTheLibrarysParquetWriter()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string model = FeaturizerTests.SaveTinyMaskedImageModel(root);
            string manifest = WriteManifest(root, count: 5);
            var files = File.ReadAllLines(manifest).Select(l => Path.Combine(Path.GetDirectoryName(manifest)!, l)).ToList();
            string parquetManifest = Path.Combine(root, "images", "files.parquet");
            using (var stream = File.Create(parquetManifest))
                ParquetSerializer.SerializeAsync(File.ReadAllLines(manifest).Select(p => new { path = p }), stream).GetAwaiter().GetResult();

            // In C#: BeitFeaturize, then SaveFeaturesAsParquet.
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(files.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Path",
                new BeitFeaturizerOptions { Model = BeitModelSource.FromDirectory(model), Pooling = BeitPooling.Cls, BatchSize = 1 }).Fit(data);
            string library = Path.Combine(root, "library.parquet");
            var reported = new List<long>();
            using (var stream = File.Create(library))
            {
                long rows = ml.Data.SaveFeaturesAsParquet(featurizer.Transform(data), stream,
                    metadata: new Dictionary<string, string> { ["beit.pooling"] = featurizer.Pooling.ToString() }, progress: new Reports(reported));
                Assert.AreEqual(5L, rows);
            }
            CollectionAssert.AreEqual(new long[] { 1, 2, 3, 4, 5 }, reported);

            string tool = Path.Combine(root, "tool.parquet");
            var (code, output, error) = BeitToolTests.Beit("featurize", "--model", model, "--manifest", parquetManifest, "--pooling", "Cls",
                "--batch-size", "1", "--output", tool);
            Console.Write(output);
            Assert.AreEqual(0, code, error);

            var expected = Read(library);
            var actual = Read(tool);
            Assert.AreEqual("Cls", expected.Metadata["beit.pooling"]);
            Assert.AreEqual("48", expected.Metadata["beit.feature_size"]);
            Assert.AreEqual("Cls", actual.Metadata["beit.pooling"]);
            Assert.AreEqual("-1", actual.Metadata["beit.layer"]);
            CollectionAssert.AreEqual(files, actual.Rows.Select(r => r.path).ToList(), "paths in manifest order, relative to its folder");
            CollectionAssert.AreEqual(files, expected.Rows.Select(r => r.path).ToList());
            for (int i = 0; i < files.Count; i++) CollectionAssert.AreEqual(expected.Rows[i].features, actual.Rows[i].features, $"row {i}");
            Console.WriteLine($"{files.Count} rows: the tool's Parquet equals SaveFeaturesAsParquet's, {expected.Rows[0].features.Length} features a row");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void APartCountsAsCompleteForTheSameModelFilesHoweverTheyAreSpelled()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string model = FeaturizerTests.SaveTinyMaskedImageModel(root);
            string manifest = WriteManifest(root, count: 2);
            string parts = Path.Combine(root, "parts");
            (int, string, string) Shard(string modelPath) =>
                BeitToolTests.Beit("featurize", "--model", modelPath, "--manifest", manifest, "--shard", "0/1", "--output", parts);

            var (code, output, error) = Shard(model);
            Assert.AreEqual(0, code, error);
            // The same folder written another way: the part is complete.
            (code, output, error) = Shard(Path.Combine(Path.GetDirectoryName(model)!, ".", Path.GetFileName(model)));
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "Skipped");
            // The model's weights replaced in place: the part is not taken as complete, and the run says why.
            string weights = Directory.EnumerateFiles(model).First(f => !f.EndsWith(".json", StringComparison.Ordinal));
            File.SetLastWriteTimeUtc(weights, File.GetLastWriteTimeUtc(weights).AddMinutes(1));
            (code, output, error) = Shard(model);
            Console.Write(error);
            Assert.AreEqual(1, code);
            StringAssert.Contains(error, "beit.model_files");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    [DataRow("3/3", null, "should be a whole number from 0 to 2")]
    [DataRow("1/0", null, "should be K/N or auto/N")]
    [DataRow("auto/3", null, "JOB_COMPLETION_INDEX, which is not set")]
    [DataRow("auto/3", "x", "Shard 'x' (from --shard auto/3)")]
    public void AWrongShardIsAOneLineError(string shard, string? jobIndex, string message)
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string manifest = WriteManifest(root, count: 1);
            var environment = new Dictionary<string, string>();
            if (jobIndex is not null) environment["JOB_COMPLETION_INDEX"] = jobIndex;
            var (code, _, error) = Processes.Run("dotnet", [BeitToolTests.ToolPath(), "featurize", "--model", "tiny-model-not-needed",
                "--manifest", manifest, "--shard", shard, "--output", Path.Combine(root, "parts")], TimeSpan.FromMinutes(2), environment);
            Console.Write(error);
            Assert.AreEqual(2, code, "a wrong --shard is a usage error");
            StringAssert.StartsWith(error, "error: ");
            StringAssert.Contains(error, message);
            Assert.AreEqual(1, error.Trim().Split('\n').Length, "one line");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Random images under root/images and a manifest there that lists them relative to itself.</summary>
    static string WriteManifest(string root, int count)
    {
        string images = Path.Combine(root, "images");
        Directory.CreateDirectory(images);
        var paths = FeaturizerTests.WriteRandomImages(images, count, width: 40, height: 30);
        string manifest = Path.Combine(images, "files.txt");
        File.WriteAllLines(manifest, paths.Select(Path.GetFileName)!);
        return manifest;
    }

    static (List<FeatureRow> Rows, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        var result = ParquetSerializer.DeserializeAsync<FeatureRow>(path).GetAwaiter().GetResult();
        return (result.Data.ToList(), result.CustomMetadata);
    }

    static (Process Process, System.Text.StringBuilder Output, System.Text.StringBuilder Error) Start(string[] arguments, int jobIndex)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[BeitToolTests.ToolPath(), .. arguments]) start.ArgumentList.Add(a);
        start.Environment["JOB_COMPLETION_INDEX"] = jobIndex.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (error) error.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, output, error);
    }

    static string Text(System.Text.StringBuilder builder)
    {
        lock (builder) return builder.ToString();
    }

    sealed class Reports(List<long> reported) : IProgress<long>
    {
        public void Report(long value) => reported.Add(value);
    }
}
