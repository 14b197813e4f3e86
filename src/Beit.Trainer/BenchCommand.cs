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
        var command = new Command("bench", "Measure forward images/s of a BEiT preset and the fraction of this machine's float32 GEMM rate it reaches.")
        {
            size, batches, iterations, dtype, threads, imageSize,
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
            Console.WriteLine($"model: BEiT-{parse.GetValue(size)} {config.ImageSize}x{config.ImageSize}, {flops / 1e9:G4} GFLOP per image (2 x multiply-adds), {parse.GetValue(dtype)}");
            Console.WriteLine($"{"batch",5} {"images/s",10} {"GFLOP/s",9} {"of GEMM",8}");
            manual_seed(1);
            using var model = new BeitModel(config);
            model.eval();
            model.to(type);
            using var noGrad = no_grad();
            foreach (int batch in sizes)
            {
                using var pixels = randn([batch, 3, config.ImageSize, config.ImageSize]).to(type);
                using (var warm = model.forward(pixels)) { }
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < parse.GetValue(iterations); i++)
                    using (var output = model.forward(pixels)) { }
                double imagesPerSecond = batch * parse.GetValue(iterations) / clock.Elapsed.TotalSeconds;
                double rate = imagesPerSecond * flops / 1e9;
                Console.WriteLine($"{batch,5} {imagesPerSecond,10:F2} {rate,9:F1} {rate / gemm,8:P0}");
            }
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
}
