using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Beit.Trainer;

/// <summary>
/// <c>beit bench</c>: forward throughput of a BEiT preset at several batch sizes, next to this machine's own float32 matrix
/// multiply rate measured in the same process, so that every figure reads as a fraction of what the hardware can do.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "Preset: tiny, base or large.", DefaultValueFactory = _ => "base" };
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,8,32" };
        var iterations = new Option<int>("--iterations") { Description = "Timed forward passes per batch size (after one warm-up pass).", DefaultValueFactory = _ => 3 };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16.", DefaultValueFactory = _ => "float32" };
        var threads = new Option<int?>("--threads") { Description = "LibTorch intra-op threads (default: LibTorch's choice)." };
        var imageSize = new Option<int?>("--image-size") { Description = "Input size (default: the preset's, 224 for base and large)." };
        var pipeline = new Option<int?>("--pipeline-images") { Description = "Also time the BeitFeaturize pipeline end to end (JPEG files decoded, preprocessed, scored) on this many generated 256x256 JPEGs, at the first batch size." };
        var train = new Option<bool>("--train") { Description = "Time training steps (forward, cross-entropy, backward, AdamW with layer decay) instead of inference; counted as 3x forward FLOPs." };
        var command = new Command("bench", "Measure forward images/s of a BEiT preset and the fraction of this machine's float32 GEMM rate it reaches.")
        {
            size, batches, iterations, dtype, threads, imageSize, train, pipeline,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            if (parse.GetValue(threads) is int n) set_num_threads(n);
            var config = BeitConfig.FromPreset(parse.GetValue(size)!);
            if (parse.GetValue(imageSize) is int s) config.ImageSize = s;
            var type = parse.GetValue(dtype)!.ToLowerInvariant() switch
            {
                "float32" => ScalarType.Float32,
                "bfloat16" => ScalarType.BFloat16,
                var other => throw new ArgumentException($"--dtype '{other}' is not float32 or bfloat16."),
            };
            var sizes = parse.GetValue(batches)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            double gemm = GemmRate();
            double flops = config.ForwardFlopsPerImage();
            Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, LibTorch threads {get_num_threads()}; float32 GEMM {gemm:F1} GFLOP/s (2048^3 matrix products)");
            Console.WriteLine($"model: BEiT-{parse.GetValue(size)} {config.ImageSize}x{config.ImageSize}, {flops / 1e9:G4} GFLOP per image forward (2 x multiply-adds), {parse.GetValue(dtype)}, {(parse.GetValue(train) ? "training steps (3x forward FLOPs)" : "inference")}");
            Console.WriteLine($"{"batch",5} {"images/s",10} {"GFLOP/s",9} {"of GEMM",8}");
            manual_seed(1);
            bool training = parse.GetValue(train);
            if (training) config.SetLabels(Enumerable.Range(0, 1000).Select(i => $"class_{i}").ToList());
            using var model = training ? (nn.Module)new BeitForImageClassification(config) : new BeitModel(config);
            model.to(type);
            if (training) model.train(); else model.eval();
            using var optimizer = training
                ? new Microsoft.ML.Beit.Training.BeitAdamW(Microsoft.ML.Beit.Training.BeitLayerDecay.Groups(model, config.NumHiddenLayers, 0.75, 0.05), 0.9, 0.999, 1e-8)
                : null;
            double work = training ? 3 * flops : flops;
            foreach (int batch in sizes)
            {
                using var pixels = randn([batch, 3, config.ImageSize, config.ImageSize]).to(type);
                using var labels = randint(0, 1000, [batch]);
                void Pass()
                {
                    using var scope = NewDisposeScope();
                    if (!training)
                    {
                        using var noGrad = no_grad();
                        ((BeitModel)model).forward(pixels);
                        return;
                    }
                    var logits = ((BeitForImageClassification)model).forward(pixels).Logits;
                    nn.functional.cross_entropy(logits.to(ScalarType.Float32), labels).backward();
                    optimizer!.Step(1e-4);
                    model.zero_grad();
                }
                Pass();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < parse.GetValue(iterations); i++) Pass();
                double imagesPerSecond = batch * parse.GetValue(iterations) / clock.Elapsed.TotalSeconds;
                double rate = imagesPerSecond * work / 1e9;
                Console.WriteLine($"{batch,5} {imagesPerSecond,10:F2} {rate,9:F1} {rate / gemm,8:P0}");
            }
            if (parse.GetValue(pipeline) is int count && !training)
                Pipeline(config, count, sizes[0], flops, gemm);
        }));
        return command;
    }

    /// <summary>The float32 rate of 2048 x 2048 x 2048 matrix products, in GFLOP/s (best of five after a warm-up).</summary>
    static double GemmRate()
    {
        using var a = randn(2048, 2048);
        using var b = randn(2048, 2048);
        using (var warm = a.matmul(b)) { }
        double best = 0;
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var c = a.matmul(b)) { }
            best = Math.Max(best, 2.0 * 2048 * 2048 * 2048 / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>The featurizer pipeline from JPEG files: decode, Pillow-exact resize and crop, normalise, forward, in ML.NET.</summary>
    static void Pipeline(BeitConfig config, int count, int batch, double flops, double gemm)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"beit-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var random = new Random(1);
            var paths = new List<AttentionCommand.ImageRow>();
            for (int i = 0; i < count; i++)
            {
                var pixels = new byte[256 * 256 * 4];
                random.NextBytes(pixels);
                using var image = SkiaSharp.SKImage.FromPixelCopy(new SkiaSharp.SKImageInfo(256, 256, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Opaque), pixels, 256 * 4);
                using var jpeg = image.Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 90);
                string path = Path.Combine(folder, $"{i:D5}.jpg");
                File.WriteAllBytes(path, jpeg.ToArray());
                paths.Add(new AttentionCommand.ImageRow { Path = path });
            }
            string model = Path.Combine(folder, "model");
            manual_seed(1);
            using (var backbone = new BeitModel(config)) Microsoft.ML.Beit.Checkpoints.BeitCheckpoint.Save(backbone, model);
            var ml = new Microsoft.ML.MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths);
            using var featurizer = ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromPath(model),
                Preprocessor = Microsoft.ML.Beit.Preprocessing.BeitPreprocessorConfig.Pt22k(config.ImageSize),
                BatchSize = batch,
            }).Fit(data);
            var clock = Stopwatch.StartNew();
            long rows = 0;
            using (var cursor = featurizer.Transform(data).GetRowCursor(featurizer.GetOutputSchema(data.Schema)))
            {
                var getter = cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(cursor.Schema["Features"]);
                Microsoft.ML.Data.VBuffer<float> features = default;
                while (cursor.MoveNext())
                {
                    getter(ref features);
                    rows++;
                }
            }
            double imagesPerSecond = rows / clock.Elapsed.TotalSeconds;
            Console.WriteLine($"featurize pipeline from {rows} JPEG files (256x256 -> {config.ImageSize}), batch {batch}: {imagesPerSecond:F2} images/s = {imagesPerSecond * flops / 1e9 / gemm:P0} of GEMM");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
