using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Data;

namespace Beit.Trainer;

/// <summary>
/// <c>beit featurize</c>: features for every image under a folder, written as CSV (path, then the vector).
/// The model is a checkpoint, or an ML.NET model zip holding a BeitFeaturize transformer.
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
        var images = new Option<string>("--images") { Description = "Folder of images (searched recursively).", Required = true };
        var output = new Option<string>("--output") { Description = "CSV file to write (path, then one column per feature).", DefaultValueFactory = _ => "features.csv" };
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
            "What runs the network: torch-sharp (LibTorch) or onnx (exported as the model loads, scored by ONNX Runtime).", BeitBackend.TorchSharp);
        var checkpoint = new CheckpointOptions();
        var command = new Command("featurize", "Write BEiT features of every image in a folder to a CSV file.")
        {
            model, images, output, pooling, layer, normalize, batchSize, device, threads, invalidImage, skipInvalid, backend,
        };
        checkpoint.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string folder = parse.GetValue(images)!;
            var files = BeitImageFiles.Find(folder).ToList();
            if (files.Count == 0) throw new InvalidDataException($"No images ({string.Join(", ", BeitImageFiles.Extensions)}) under '{folder}'.");

            var ml = new MLContext(seed: 1);
            string modelPath = parse.GetValue(model)!;
            // A zip with a BeitFeaturize pipeline runs as saved; any other model (a checkpoint, a classifier's zip) is featurized
            // with the options given here.
            bool featurizerZip = modelPath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) && HoldsFeaturizer(ml, modelPath);
            var (transformer, inputColumn, featureColumn) = featurizerZip
                ? FromModelZip(ml, modelPath)
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
                    Backend = backend.Get(parse)!.Value,
                });
            var data = ml.Data.LoadFromEnumerable(files.Select(f => new ImageFile { Path = f }));
            var renamed = inputColumn == "Path" ? data : ml.Transforms.CopyColumns(inputColumn, "Path").Fit(data).Transform(data);
            Write(transformer.Transform(renamed), featureColumn, parse.GetValue(output)!, files.Count);
            (transformer as IDisposable)?.Dispose();
        }));
        return command;
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
    static (ITransformer, string, string) FromModelZip(MLContext ml, string path)
    {
        var model = ml.Model.Load(path, out var schema);
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
