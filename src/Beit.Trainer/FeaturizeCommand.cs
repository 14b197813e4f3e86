using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Data;

namespace Beit.Trainer;

/// <summary>
/// <c>beit featurize</c>: features for every image under a folder or in a manifest, written as CSV (path, then the vector) or
/// Parquet (path, features), whole or one shard at a time (<see cref="FeatureShard"/>, <see cref="FeatureParts"/>). The model is a checkpoint, or an ML.NET
/// model zip holding a BeitFeaturize transformer.
/// </summary>
internal static class FeaturizeCommand
{

    sealed class ImageFile
    {
        public string Path { get; set; } = "";
    }

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint (Hugging Face directory, .safetensors, .pth) or a model.zip saved with a BeitFeaturize transformer.", Required = true };
        var images = new Option<string?>("--images") { Description = "Folder of images (searched recursively); or give --manifest." };
        var output = new Option<string>("--output")
        {
            Description = "File to write: .parquet (columns path and features, a list of float; model, pooling, layer and feature size " +
                "in the file's metadata), or CSV for any other name (path, then one column per feature). With --shard, the folder for the part files.",
            DefaultValueFactory = _ => "features.csv",
        };
        var pooling = new ChoiceOption<BeitPooling>("--pooling",
            "How tokens become one vector: mean, cls, tokens (every patch token) or cls-attention (the CLS token's attention to every patch, per head).", BeitPooling.Mean);
        var layer = new Option<int>("--layer") { Description = "Hidden state to pool: 0 = embeddings, k = block k, -1 = last.", DefaultValueFactory = _ => -1 };
        var normalize = new Option<bool>("--normalize-l2") { Description = "Scale every vector to unit length." }.Formerly("--normalize");
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward pass.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var device = new Option<string>("--device") { Description = $"Device: {BeitDevice.Choices}.", DefaultValueFactory = _ => "auto" }.Device();
        var threads = new Option<int?>("--threads") { Description = "LibTorch or ONNX Runtime threads (default: all cores)." }.AtLeast(1);
        var invalidImage = new ChoiceOption<BeitInvalidImageHandling>("--invalid-image",
            "An image that cannot be read: throw stops with an error naming it; skip gives it NaN features.", BeitInvalidImageHandling.Throw);
        // The old spelling of --invalid-image skip, kept for one release.
        var skipInvalid = new Option<bool>("--skip-invalid") { Hidden = true };
        var backend = new ChoiceOption<BeitBackend>("--backend",
            "What runs the network: torch-sharp (LibTorch) or onnx (ONNX Runtime; a checkpoint is exported as it loads). " +
            "Default: torch-sharp for a checkpoint; a model zip runs as it was saved.");
        var saveModel = new Option<string?>("--save-model")
        {
            Description = "Also save the featurizer as a model zip that --model accepts; with --backend onnx that zip loads and scores " +
                "without LibTorch. Without --images or --manifest, only saves it.",
        };
        var checkpoint = new CheckpointOptions();
        var shards = new FeatureShardFlags();
        var command = new Command("featurize", "Write BEiT features of every image in a folder or manifest to a CSV or Parquet file, or one shard of them to a Parquet part.")
        {
            model, images, output, pooling, layer, normalize, batchSize, device, threads, invalidImage, skipInvalid, backend, saveModel,
        };
        checkpoint.AddTo(command);
        shards.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var (listed, files) = ListImages(parse.GetValue(images), parse.GetValue(shards.Manifest), parse.GetValue(saveModel));
            string outputPath = parse.GetValue(output)!;
            int total = files.Count;

            var ml = new MLContext(seed: 1);
            string modelPath = parse.GetValue(model)!;
            // A zip with a BeitFeaturize pipeline runs as saved; any other model (a checkpoint, a classifier's zip) is featurized
            // with the options given here.
            bool featurizerZip = modelPath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) && HoldsFeaturizer(ml, modelPath);

            // What the output records of its settings; a shard's part also records its rows, and is skipped when it is complete.
            var metadata = new Dictionary<string, string> { [FeatureParts.ModelKey] = modelPath, [FeatureParts.ModelFilesKey] = FeatureParts.ModelFiles(modelPath) };
            if (!featurizerZip) AddSettings(metadata, pooling.Get(parse)!.Value, parse.GetValue(layer), parse.GetValue(normalize));
            if (parse.GetValue(shards.Shard) is string shardValue)
            {
                if (total == 0) throw new UsageException("--shard needs the images: --images DIR or --manifest FILE.");
                if (outputPath.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || outputPath.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
                    throw new UsageException($"With --shard, --output names the folder of the part files, not a file ('{outputPath}').");
                var shard = FeatureShard.Parse(shardValue, Environment.GetEnvironmentVariable);
                var (start, end) = shard.Rows(total);
                foreach (var (key, value) in FeatureParts.Identity(shard, start, end, total, listed.Skip(start).Take(end - start))) metadata[key] = value;
                outputPath = Path.Combine(outputPath, shard.PartName);
                files = files.GetRange(start, end - start);
                Console.WriteLine($"Shard {shard} rows {FeatureShard.DescribeRows(start, end, total)}");
                if (FeatureParts.IsComplete(outputPath, files.Count, metadata))
                {
                    Console.WriteLine($"Skipped {outputPath}: complete with {files.Count} rows");
                    return;
                }
            }

            var (transformer, inputColumn, featureColumn) = featurizerZip
                ? FromModelZip(ml, modelPath, parse.GetValue(backend), parse.GetValue(device)!)
                : FromCheckpoint(ml, modelPath, files, new BeitFeaturizerOptions
                {
                    Model = modelPath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)
                        ? BeitModelSource.FromPath(modelPath)
                        : BeitModelSource.FromFile(modelPath, parse.GetValue(checkpoint.Config), parse.GetValue(checkpoint.Preset)),
                    Pooling = pooling.Get(parse)!.Value,
                    Layer = parse.GetValue(layer),
                    NormalizeL2 = parse.GetValue(normalize),
                    BatchSize = parse.GetValue(batchSize),
                    Device = parse.GetValue(device)!,
                    Threads = parse.GetValue(threads),
                    InvalidImage = parse.GetValue(skipInvalid) ? BeitInvalidImageHandling.Skip : invalidImage.Get(parse)!.Value,
                    Backend = backend.Get(parse) ?? BeitBackend.TorchSharp,
                });
            try
            {
                if (parse.GetValue(saveModel) is string save) SaveFeaturizer(ml, transformer, featurizerZip, save);
                if (total == 0) return;
                var featurizer = Featurizer(transformer);
                AddSettings(metadata, featurizer.Pooling, featurizer.Layer, featurizer.NormalizeL2);
                var data = ml.Data.LoadFromEnumerable(files.Select(f => new ImageFile { Path = f }));
                var renamed = inputColumn == "Path" ? data : ml.Transforms.CopyColumns(inputColumn, "Path").Fit(data).Transform(data);
                var scored = transformer.Transform(renamed);
                // Parquet for a .parquet file and every shard's part; CSV for any other name, as before Parquet was there.
                if (outputPath.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) ParquetFeatureOutput.Write(ml, scored, featureColumn, outputPath, files.Count, metadata);
                else Write(scored, featureColumn, outputPath, files.Count);
            }
            finally
            {
                foreach (var t in transformer as IEnumerable<ITransformer> ?? [transformer]) (t as IDisposable)?.Dispose();
            }
        }));
        return command;
    }

    // The images to featurize, as listed (folder paths, or manifest entries) and as files to read; none when only saving the model.
    static (List<string> Listed, List<string> Files) ListImages(string? folder, string? manifest, string? saveModel)
    {
        if (folder is not null && manifest is not null) throw new UsageException("Give --images or --manifest, not both.");
        if (manifest is not null) return FeatureManifest.Read(manifest);
        if (folder is null)
            return saveModel is not null ? ([], []) : throw new UsageException("Say which images to featurize: --images DIR or --manifest FILE.");
        var files = BeitImageFiles.Find(folder).ToList();
        if (files.Count == 0) throw new InvalidDataException($"No images ({string.Join(", ", BeitImageFiles.Extensions)}) under '{folder}'.");
        return (files, files);
    }

    static void AddSettings(Dictionary<string, string> metadata, BeitPooling pooling, int layer, bool normalize)
    {
        metadata["beit.pooling"] = pooling.ToString();
        metadata["beit.layer"] = layer.ToString(CultureInfo.InvariantCulture);
        metadata["beit.normalize_l2"] = normalize ? "true" : "false";
    }

    static BeitFeaturizerTransformer Featurizer(ITransformer model) =>
        model as BeitFeaturizerTransformer ?? (model as IEnumerable<ITransformer>)!.OfType<BeitFeaturizerTransformer>().Last();

    static void SaveFeaturizer(MLContext ml, ITransformer transformer, bool featurizerZip, string path)
    {
        if (featurizerZip) throw new ArgumentException("--model is already a featurizer's model zip; to move it to ONNX Runtime use beit export-onnx --model it.zip --output onnx.zip.");
        var schema = ml.Data.LoadFromEnumerable(Array.Empty<ImageFile>()).Schema;
        ml.Model.Save(transformer, schema, path);
        Console.WriteLine($"Model {path}");
    }

    static (ITransformer, string, string) FromCheckpoint(MLContext ml, string path, List<string> files, BeitFeaturizerOptions options)
    {
        var data = ml.Data.LoadFromEnumerable(files.Take(1).Select(f => new ImageFile { Path = f }));
        return (ml.Transforms.BeitFeaturize("Features", "Path", options).Fit(data), "Path", "Features");
    }

    static bool HoldsFeaturizer(MLContext ml, string path)
    {
        var model = ml.Model.Load(path, out _);
        try
        {
            return (model as IEnumerable<ITransformer> ?? [model]).OfType<BeitFeaturizerTransformer>().Any();
        }
        finally
        {
            foreach (var t in model as IEnumerable<ITransformer> ?? [model]) (t as IDisposable)?.Dispose();
        }
    }

    // A model zip saved from a pipeline whose input is one text column of image paths.
    static (ITransformer, string, string) FromModelZip(MLContext ml, string path, BeitBackend? backend, string device)
    {
        var model = ml.Model.Load(path, out var schema);
        if (backend == BeitBackend.Onnx)
        {
            var onnx = ml.Model.ToOnnxBackend(model, device);
            if (!ReferenceEquals(onnx, model))
                foreach (var t in model as IEnumerable<ITransformer> ?? [model]) if (t is Microsoft.ML.Beit.Scoring.BeitImageTransformer) (t as IDisposable)?.Dispose();
            model = onnx;
        }
        else if (backend == BeitBackend.TorchSharp && Featurizer(model).Backend == BeitBackend.Onnx)
            throw new ArgumentException($"{path} scores through ONNX Runtime and holds no TorchSharp weights; leave out --backend, or use the zip it was converted from.");
        var textColumns = schema.Where(c => c.Type is TextDataViewType).ToList();
        if (textColumns.Count != 1)
            throw new InvalidDataException($"{path}: the model's input should be one text column of image paths; it has {string.Join(", ", schema.Select(c => $"{c.Name} ({c.Type})"))}.");
        var featurizer = (model as IEnumerable<ITransformer>)?.OfType<BeitFeaturizerTransformer>().LastOrDefault()
            ?? model as BeitFeaturizerTransformer
            ?? throw new InvalidDataException($"{path} holds no BeitFeaturize transformer.");
        return (model, textColumns[0].Name, featurizer.OutputColumnName);
    }

    static void Write(IDataView scored, string featureColumn, string outputPath, int total)
    {
        var clock = Stopwatch.StartNew();
        var pathColumn = scored.Schema["Path"];
        var features = scored.Schema[featureColumn];
        using var cursor = scored.GetRowCursor([pathColumn, features]);
        var getPath = cursor.GetGetter<ReadOnlyMemory<char>>(pathColumn);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(features);
        ReadOnlyMemory<char> path = default;
        VBuffer<float> vector = default;
        string temporary = outputPath + ".partial";
        int done = 0;
        using (var writer = new StreamWriter(temporary))
        {
            bool header = false;
            while (cursor.MoveNext())
            {
                getPath(ref path);
                getFeatures(ref vector);
                var values = vector.DenseValues().ToArray();
                if (!header)
                {
                    writer.WriteLine(Csv.Record(["path", .. Enumerable.Range(0, values.Length).Select(i => $"f{i}")]));
                    header = true;
                }
                writer.Write(Csv.Field(path.ToString()));
                foreach (float v in values)
                {
                    writer.Write(',');
                    writer.Write(v.ToString("R", CultureInfo.InvariantCulture));
                }
                writer.WriteLine();
                done++;
                if (done % 8 == 0 || done == total)
                    Console.Error.Write($"\rfeaturized {done}/{total} images, {done / clock.Elapsed.TotalSeconds:F1} images/s   ");
            }
        }
        File.Move(temporary, outputPath, overwrite: true);
        Console.Error.WriteLine();
        Console.WriteLine($"Images {done}");
        Console.WriteLine($"ImagesPerSecond {done / clock.Elapsed.TotalSeconds:F2}");
        Console.WriteLine($"Output {outputPath}");
    }
}
