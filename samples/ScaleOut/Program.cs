// Featurization at scale (docs/scale-out.md): the Parquet parts that `beit featurize --shard K/N` writes, merged and queried
// with DuckDB. Pass the folder of parts as the first argument. Without one, the sample writes three parts itself, the way
// three shards would: 60 Fashion-MNIST test images as PNG files, featurized by a tiny randomly initialised BEiT and saved
// with SaveFeaturesAsParquet as part-K-of-3.parquet (contiguous rows, as --shard assigns them), so it runs offline in seconds.
using BeitSamples;
using DuckDB.NET.Data;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using TorchSharp;

string parts = args.FirstOrDefault(a => !a.StartsWith("--")) ?? WriteParts(SampleData.OutputFolder("scale-out"), images: 60, shards: 3);
string glob = Sql(Path.Combine(parts, "part-*.parquet"));

using var duck = new DuckDBConnection("Data Source=:memory:");
duck.Open();

// 1. The parts as one table: DuckDB reads every file the glob matches; filename and file_row_number keep the shards' order.
duck.Execute($"""
    CREATE VIEW features AS
    SELECT path, features, filename, file_row_number
    FROM read_parquet('{glob}', filename = true, file_row_number = true)
    """);
long rows = duck.Scalar<long>("SELECT count(*) FROM features");
long files = duck.Scalar<long>("SELECT count(DISTINCT filename) FROM features");
long size = duck.Scalar<long>("SELECT max(len(features)) FROM features");
Console.WriteLine($"{rows} rows in {files} parts, {size} features a row");
SampleData.Check(rows > 0 && duck.Scalar<long>("SELECT count(DISTINCT path) FROM features") == rows, "every image is in exactly one part");

// 2. What the parts say about how they were made: the key-value metadata of each file.
foreach (var (key, value) in duck.Rows($"""
    SELECT DISTINCT decode(key), decode(value) FROM parquet_kv_metadata('{glob}')
    WHERE decode(key) IN ('beit.model', 'beit.pooling', 'beit.layer', 'beit.feature_size') ORDER BY 1
    """))
    Console.WriteLine($"  {key} = {value}");
SampleData.Check(duck.Scalar<long>($"SELECT count(DISTINCT decode(value)) FROM parquet_kv_metadata('{glob}') WHERE decode(key) = 'beit.pooling'") == 1,
    "all parts were made with one pooling");

// 3. Merge: one Parquet file in the shards' order (part 0's rows, then part 1's, ...), the order of the manifest.
string merged = Path.Combine(SampleData.OutputFolder("scale-out"), "features-merged.parquet");
duck.Execute($"COPY (SELECT path, features FROM features ORDER BY filename, file_row_number) TO '{Sql(merged)}' (FORMAT parquet)");
long mergedRows = duck.Scalar<long>($"SELECT count(*) FROM read_parquet('{Sql(merged)}')");
Console.WriteLine($"merged into {merged} ({mergedRows} rows)");
SampleData.Check(mergedRows == rows, "the merged file has every row");

// 4. Query: each of the first three images' nearest neighbour by cosine similarity, computed in SQL.
foreach (var (query, neighbour, similarity) in duck.Rows3("""
    WITH q AS (SELECT path, features FROM features ORDER BY filename, file_row_number LIMIT 3)
    SELECT q.path, f.path, list_cosine_similarity(q.features, f.features) AS similarity
    FROM q JOIN features f ON f.path <> q.path
    QUALIFY row_number() OVER (PARTITION BY q.path ORDER BY similarity DESC) = 1
    ORDER BY q.path
    """))
    Console.WriteLine($"  {Path.GetFileName(Path.GetDirectoryName(query))}/{Path.GetFileName(query)} -> " +
        $"{Path.GetFileName(Path.GetDirectoryName(neighbour))}/{Path.GetFileName(neighbour)} (cosine {similarity:F3})");
SampleData.Check(duck.Scalar<double>("SELECT max(list_cosine_similarity(features, features)) FROM features") > 0.999,
    "an image is most similar to itself");

// Writes `images` test images under folder/images/<class>/ and their features as `shards` contiguous parts in folder/parts.
static string WriteParts(string folder, int images, int shards)
{
    var ml = new MLContext(seed: 1);
    var paths = new List<string>();
    foreach (var (row, i) in SampleData.Load("t10k", images).Select((r, i) => (r, i)))
    {
        string path = Path.Combine(folder, "images", row.Label, $"t10k-{i:D5}.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, row.Image);
        paths.Add(path);
    }
    using var featurizer = ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
    {
        Model = BeitModelSource.FromDirectory(WriteRandomModel(Path.Combine(folder, "model"))),
        NormalizeL2 = true, Device = "cpu",
    }).Fit(ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePath { Path = p })));
    string partsFolder = Path.Combine(folder, "parts");
    Directory.CreateDirectory(partsFolder);
    foreach (var stale in Directory.GetFiles(partsFolder)) File.Delete(stale);
    var metadata = new Dictionary<string, string>
    {
        ["beit.model"] = "tiny random (sample)", ["beit.pooling"] = featurizer.Pooling.ToString(),
        ["beit.layer"] = featurizer.Layer.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
    for (int k = 0; k < shards; k++)
    {
        // Shard k of N holds rows M*k/N to M*(k+1)/N - 1, as `beit featurize --shard k/N` assigns them.
        var shard = paths.Skip(paths.Count * k / shards).Take(paths.Count * (k + 1) / shards - paths.Count * k / shards);
        var data = ml.Data.LoadFromEnumerable(shard.Select(p => new ImagePath { Path = p }));
        using var stream = File.Create(Path.Combine(partsFolder, $"part-{k}-of-{shards}.parquet"));
        long written = ml.Data.SaveFeaturesAsParquet(featurizer.Transform(data), stream, metadata: metadata);
        Console.WriteLine($"wrote part-{k}-of-{shards}.parquet ({written} rows)");
    }
    return partsFolder;
}

// A BEiT for 28x28 images (7x7 patches, 64 wide, 2 blocks) with random weights, in the Hugging Face layout.
static string WriteRandomModel(string folder)
{
    var config = new BeitConfig
    {
        ImageSize = 28, PatchSize = 7, HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 128,
        UseMeanPooling = true, UseRelativePositionBias = true, LayerNormEps = 1e-6,
    };
    torch.manual_seed(1);
    using var model = new BeitModel(config);
    BeitInitializer.Initialize(model, config, new torch.Generator(1));
    BeitCheckpoint.Save(model, folder);
    return folder;
}

// A path inside a SQL string literal.
static string Sql(string path) => path.Replace("'", "''");

sealed class ImagePath
{
    public string Path { get; set; } = "";
}

static class DuckDbExtensions
{
    public static void Execute(this DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static T Scalar<T>(this DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static List<(string, string)> Rows(this DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<(string, string)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetString(1)));
        return rows;
    }

    public static List<(string, string, double)> Rows3(this DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<(string, string, double)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetString(1), Convert.ToDouble(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture)));
        return rows;
    }
}
