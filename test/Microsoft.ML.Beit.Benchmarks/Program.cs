using System.CommandLine;
using Microsoft.ML.Beit.Benchmarks;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

// The benchmarks, one command each (run from the repository root, Release build):
//   dotnet run -c Release --project test/Microsoft.ML.Beit.Benchmarks -- throughput
//   dotnet run -c Release --project test/Microsoft.ML.Beit.Benchmarks -- memory
//   dotnet run -c Release --project test/Microsoft.ML.Beit.Benchmarks -- bench --size base --batch 8 --breakdown
// Each prints its table and writes JSON under artifacts/benchmarks/.

var output = new Option<string>("--output") { Description = "Folder for the JSON results.", DefaultValueFactory = _ => Path.Combine("artifacts", "benchmarks") };
var threads = new Option<int?>("--threads") { Description = "LibTorch intra-op threads (default: LibTorch's choice); the peer gets the same." };

var sizes = new Option<string>("--sizes") { Description = "Presets for the forward rows.", DefaultValueFactory = _ => "base,large" };
var batches = new Option<string>("--batch") { Description = "Forward batch sizes.", DefaultValueFactory = _ => "1,8,32" };
var trainBatches = new Option<string>("--train-batch") { Description = "Training-step batch sizes (first preset of --sizes); empty for none.", DefaultValueFactory = _ => "8,32" };
var bfloat16Batches = new Option<string>("--bfloat16-batch") { Description = "bfloat16 forward batch sizes (first preset); empty for none.", DefaultValueFactory = _ => "8" };
var onnxBatches = new Option<string>("--onnx-batch") { Description = "ONNX Runtime forward batch sizes (first preset); empty for none.", DefaultValueFactory = _ => "8" };
var pipelineImages = new Option<int>("--pipeline-images") { Description = "JPEG files for the featurize pipeline row (first preset, --pipeline-batch); 0 for none.", DefaultValueFactory = _ => 96 };
var pipelineBatch = new Option<int>("--pipeline-batch") { Description = "Batch size of the featurize pipeline row.", DefaultValueFactory = _ => 8 };
var iterations = new Option<int>("--iterations") { Description = "Timed passes per row, after one warm-up pass (the peer gets as many).", DefaultValueFactory = _ => 3 };
var noPeer = new Option<bool>("--no-peer") { Description = "Do not run the PyTorch peer even where ../shared/bench is present." };
var throughput = new Command("throughput", "Forward (TorchSharp and ONNX Runtime), featurize-pipeline, training-step and bfloat16 images/s, as fractions of the GEMM rate and ratios to the PyTorch peer.")
{
    sizes, batches, trainBatches, bfloat16Batches, onnxBatches, pipelineImages, pipelineBatch, iterations, noPeer, threads, output,
};
throughput.SetAction(parse =>
{
    Threads(parse.GetValue(threads));
    var presets = List(parse.GetValue(sizes)!, s => s.ToLowerInvariant());
    bool peer = !parse.GetValue(noPeer) && PytorchPeer.Script is not null;
    double gemm = ModelThroughput.GemmRate();
    Console.WriteLine($"machine: {BenchMachine.Describe()}");
    Console.WriteLine($"float32 GEMM {gemm:F1} GFLOP/s (2048^3 matrix products, this process)");
    Console.WriteLine(peer ? $"PyTorch peer: {PytorchPeer.Script}" : "PyTorch peer: not run (absent or --no-peer)");
    var suite = new ThroughputSuite(gemm, peer, get_num_threads(), Console.Out);
    Console.WriteLine(ThroughputSuite.Header);
    int n = parse.GetValue(iterations);
    foreach (string preset in presets)
        suite.Model(preset, BeitConfig.FromPreset(preset), ScalarType.Float32, false, List(parse.GetValue(batches)!, int.Parse), n);
    string first = presets[0];
    if (parse.GetValue(pipelineImages) is > 0 and int images)
        suite.Pipeline(first, BeitConfig.FromPreset(first), parse.GetValue(pipelineBatch), images);
    if (List(parse.GetValue(trainBatches)!, int.Parse) is { Count: > 0 } train)
        suite.Model(first, BeitConfig.FromPreset(first), ScalarType.Float32, true, train, n);
    if (List(parse.GetValue(bfloat16Batches)!, int.Parse) is { Count: > 0 } bf16)
        suite.Model(first, BeitConfig.FromPreset(first), ScalarType.BFloat16, false, bf16, n);
    if (List(parse.GetValue(onnxBatches)!, int.Parse) is { Count: > 0 } onnx)
        suite.OnnxRuntime(first, BeitConfig.FromPreset(first), onnx, n);
    Finish(parse.GetValue(output)!, "throughput", gemm, suite.Rows, []);
});

var memorySize = new Option<string>("--size") { Description = "Preset of the model (random weights).", DefaultValueFactory = _ => "tiny" };
var imageSize = new Option<int>("--image-size") { Description = "Model input size; the 256x256 JPEGs are resized and cropped to it.", DefaultValueFactory = _ => 224 };
var patchSize = new Option<int?>("--patch-size") { Description = "Patch size (default 16 when the tiny preset is scaled to 224, else the preset's)." };
var images = new Option<int>("--images") { Description = "Rows to featurize through an IDataView cursor.", DefaultValueFactory = _ => 20_000 };
var calls = new Option<int>("--calls") { Description = "Single-image PredictionEngine calls.", DefaultValueFactory = _ => 10_000 };
var every = new Option<int>("--every") { Description = "Read memory after every this many images or calls.", DefaultValueFactory = _ => 1_000 };
var files = new Option<int>("--files") { Description = "Distinct generated JPEG files the rows cycle over (each row is decoded anew).", DefaultValueFactory = _ => 100 };
var batch = new Option<int>("--batch") { Description = "The featurizer's batch size.", DefaultValueFactory = _ => 8 };
var memory = new Command("memory", "Resident memory while featurizing many images through the BeitFeaturize pipeline and over many PredictionEngine calls.")
{
    memorySize, imageSize, patchSize, images, calls, every, files, batch, threads, output,
};
memory.SetAction(parse =>
{
    Threads(parse.GetValue(threads));
    string preset = parse.GetValue(memorySize)!.ToLowerInvariant();
    var config = BeitConfig.FromPreset(preset);
    config.ImageSize = parse.GetValue(imageSize);
    config.PatchSize = parse.GetValue(patchSize) ?? (preset == "tiny" && config.ImageSize == 224 ? 16 : config.PatchSize);
    Console.WriteLine($"machine: {BenchMachine.Describe()}");
    Console.WriteLine($"model: BEiT-{preset} (random weights), {config.ImageSize}x{config.ImageSize}, patch {config.PatchSize}, " +
        $"{config.HiddenSize} wide, {config.NumHiddenLayers} blocks; batch {parse.GetValue(batch)}; rows cycle over {parse.GetValue(files)} generated 256x256 JPEGs");
    using var jpegs = new BenchImages(parse.GetValue(files));
    using var pipeline = new FeaturizePipeline(config, parse.GetValue(batch), jpegs.Folder);
    var runs = new List<MemoryRun>();
    if (parse.GetValue(images) > 0)
    {
        runs.Add(pipeline.StreamMemory(jpegs.Paths, parse.GetValue(images), parse.GetValue(every)));
        runs[^1].Print(Console.Out);
    }
    if (parse.GetValue(calls) > 0)
    {
        runs.Add(pipeline.PredictionEngineMemory(jpegs.Paths, parse.GetValue(calls), parse.GetValue(every)));
        runs[^1].Print(Console.Out);
    }
    Finish(parse.GetValue(output)!, "memory", null, [], runs);
});

var root = new RootCommand("Microsoft.ML.Beit benchmarks: throughput, memory, and bench (one preset). Run them with nothing else using the cores.")
{
    throughput, memory, BenchCommand.Create(),
};
return root.Parse(args).Invoke();

static List<T> List<T>(string text, Func<string, T> parse) =>
    text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(parse).ToList();

static void Threads(int? threads)
{
    if (threads is int n) set_num_threads(n);
}

static void Finish(string folder, string name, double? gemm, IReadOnlyList<ThroughputRow> rows, IReadOnlyList<MemoryRun> memory)
{
    string path = Path.Combine(folder, $"{name}-{DateTime.Now:yyyyMMdd-HHmmss}.json");
    BenchMachine.WriteJson(path, gemm, rows, memory);
    Console.WriteLine($"peak RSS {MemorySample.MiB(MemorySample.PeakRss()):F0} MiB");
    Console.WriteLine($"results: {path}");
}
