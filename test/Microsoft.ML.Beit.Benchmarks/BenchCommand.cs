using System.CommandLine;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>
/// <c>bench</c>: forward throughput of a BEiT preset at several batch sizes, next to this machine's own float32 matrix
/// multiply rate measured in the same process, so that every figure reads as a fraction of what the hardware can do; with
/// <c>--peer</c>, the PyTorch eager peer's rate for the same work, measured right after. The measuring code is in
/// Benchmarking/, shared with the <c>throughput</c> and <c>memory</c> commands.
/// </summary>
internal static class BenchCommand
{
    public static System.CommandLine.Command Create()
    {
        var size = new Option<string>("--size") { Description = "Preset: tiny, base or large.", DefaultValueFactory = _ => "base" };
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,8,32" };
        var iterations = new Option<int>("--iterations") { Description = "Timed forward passes per batch size (after one warm-up pass).", DefaultValueFactory = _ => 3 };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16.", DefaultValueFactory = _ => "float32" };
        var threads = new Option<int?>("--threads") { Description = "LibTorch intra-op threads (default: LibTorch's choice)." };
        var imageSize = new Option<int?>("--image-size") { Description = "Input size (default: the preset's, 224 for base and large)." };
        var pipeline = new Option<int?>("--pipeline-images") { Description = "Also time the BeitFeaturize pipeline end to end (JPEG files decoded, preprocessed, scored) on this many generated 256x256 JPEGs, at the first batch size." };
        var train = new Option<bool>("--train") { Description = "Time training steps (forward, cross-entropy, backward, AdamW with layer decay) instead of inference; counted as 3x forward FLOPs." };
        var peer = new Option<bool>("--peer") { Description = "Also run the PyTorch eager peer (../shared/bench/run_peer.sh; base and large, float32) for the same size, batch and mode, and print our images/s over its." };
        var onnx = new Option<bool>("--onnx") { Description = "Also time the same model exported to ONNX and run by ONNX Runtime on the CPU (the Backend = Onnx scoring option), at each batch size." };
        var onnxInt8 = new Option<bool>("--onnx-int8") { Description = "Also time the ONNX export with int8 linear layers (BeitOnnxQuantization.Int8Dynamic) on ONNX Runtime's CPU, at each batch size." };
        var breakdown = new Option<bool>("--breakdown") { Description = "Also split the forward time at each batch size into the linear layers' matrix products and everything else (attention, softmax, LayerNorm, GELU, patch embedding)." };
        var json = new Option<string?>("--json") { Description = "Also write the results (machine, GEMM rate, rows, peak RSS) to this JSON file." };
        var command = new System.CommandLine.Command("bench", "Measure forward images/s of a BEiT preset and the fraction of this machine's float32 GEMM rate it reaches.")
        {
            size, batches, iterations, dtype, threads, imageSize, train, pipeline, peer, onnx, onnxInt8, breakdown, json,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(threads) is int n) set_num_threads(n);
            string preset = parse.GetValue(size)!.Trim().ToLowerInvariant();
            var config = BeitConfig.FromPreset(preset);
            if (parse.GetValue(imageSize) is int s) config.ImageSize = s;
            var type = parse.GetValue(dtype)!.ToLowerInvariant() switch
            {
                "float32" => ScalarType.Float32,
                "bfloat16" => ScalarType.BFloat16,
                var other => throw new ArgumentException($"--dtype '{other}' is not float32 or bfloat16."),
            };
            var sizes = parse.GetValue(batches)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            bool training = parse.GetValue(train);
            bool withPeer = parse.GetValue(peer);
            if (withPeer && !PytorchPeer.Supports(preset, config.ImageSize))
                Console.WriteLine(PytorchPeer.Script is null
                    ? "peer: ../shared/bench/run_peer.sh is not beside this repository; no peer figures"
                    : $"peer: the PyTorch peer knows base and large at 224x224 only; no peer figures for {preset} at {config.ImageSize}");

            double gemm = ModelThroughput.GemmRate();
            Console.WriteLine($"machine: {BenchMachine.Describe()}");
            Console.WriteLine($"float32 GEMM {gemm:F1} GFLOP/s (2048^3 matrix products, this process)");
            Console.WriteLine($"model: BEiT-{preset} {config.ImageSize}x{config.ImageSize}, {config.ForwardFlopsPerImage() / 1e9:G4} GFLOP per image forward (2 x multiply-adds), {parse.GetValue(dtype)}, " +
                $"{(training ? "training steps (3x forward FLOPs)" : "inference")}");
            var suite = new ThroughputSuite(gemm, withPeer, get_num_threads(), Console.Out);
            Console.WriteLine(ThroughputSuite.Header);
            suite.Model(preset, config, type, training, sizes, parse.GetValue(iterations));
            if (parse.GetValue(onnx) && !training && type == ScalarType.Float32)
                suite.OnnxRuntime(preset, config, sizes, parse.GetValue(iterations));
            if (parse.GetValue(onnxInt8) && !training && type == ScalarType.Float32)
                suite.OnnxRuntime(preset, config, sizes, parse.GetValue(iterations), BeitOnnxQuantization.Int8Dynamic);
            if (parse.GetValue(breakdown) && !training && type == ScalarType.Float32)
                foreach (int batch in sizes)
                {
                    var (forward, linear, share) = ForwardBreakdown.Measure(config, batch, parse.GetValue(iterations));
                    Console.WriteLine($"breakdown, batch {batch}: forward {forward:F3} s; the linear layers' products alone {linear:F3} s " +
                        $"({linear / forward:P0} of the time, {share:P0} of the FLOPs, {config.ForwardFlopsPerImage() * batch * share / linear / 1e9:F0} GFLOP/s); " +
                        $"everything else {forward - linear:F3} s ({1 - linear / forward:P0} of the time, {1 - share:P0} of the FLOPs)");
                }
            if (parse.GetValue(pipeline) is int count && !training)
                suite.Pipeline(preset, config, sizes[0], count);
            Console.WriteLine($"peak RSS {MemorySample.MiB(MemorySample.PeakRss()):F0} MiB");
            if (parse.GetValue(json) is { } path) BenchMachine.WriteJson(path, gemm, suite.Rows, []);
        });
        return command;
    }
}
