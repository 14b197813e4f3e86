using System.Diagnostics;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>One measured workload: our rate, its fraction of the GEMM rate, and the PyTorch peer's rate for the same work.</summary>
internal sealed record ThroughputRow(string Workload, string Size, int ImageSize, int Batch, string Dtype, double ImagesPerSecond,
    double GflopsPerSecond, double FractionOfGemm, double? PeerImagesPerSecond = null, double? PeerGemmGflops = null, string? Note = null)
{
    /// <summary>Our images/s over the peer's, when the peer ran.</summary>
    public double? PeerRatio => PeerImagesPerSecond is double peer ? ImagesPerSecond / peer : null;
}

/// <summary>
/// Runs workloads one after another in this process and, where asked and possible, the PyTorch peer for the same work
/// right after ours; prints each row as it is measured. The bench and throughput commands both run through it.
/// </summary>
internal sealed class ThroughputSuite(double gemm, bool peer, int threads, TextWriter log)
{
    public double Gemm => gemm;

    public List<ThroughputRow> Rows { get; } = [];

    public static string Header => $"{"workload",-22} {"size",-6} {"batch",5} {"dtype",-9} {"images/s",9} {"GFLOP/s",8} {"of GEMM",8} {"peer img/s",10} {"ratio",6}";

    /// <summary>Forward passes (or training steps) of a randomly initialised model at each batch size.</summary>
    public void Model(string size, BeitConfig config, ScalarType type, bool training, IReadOnlyList<int> batches, int iterations)
    {
        using var model = new ModelThroughput(config, type, training);
        foreach (int batch in batches)
        {
            double rate = model.ImagesPerSecond(batch, iterations);
            var row = Row(training ? "training step" : "forward", size, config, batch, type, rate, model.FlopsPerImage);
            if (peer && type == ScalarType.Float32 && PytorchPeer.Supports(size, config.ImageSize))
            {
                var result = PytorchPeer.Run(size, batch, training, threads, iterations);
                row = row with { PeerImagesPerSecond = result.ImagesPerSecond, PeerGemmGflops = result.GemmGflops };
            }
            Add(row);
        }
    }

    /// <summary>
    /// Forward passes of the same randomly initialised backbone exported to ONNX and run by ONNX Runtime (full graph
    /// optimization, CPU), as the <c>Backend = Onnx</c> scoring option runs it. The peer figure is its forward at that batch.
    /// </summary>
    public void OnnxRuntime(string size, BeitConfig config, IReadOnlyList<int> batches, int iterations,
        BeitOnnxQuantization quantization = BeitOnnxQuantization.None)
    {
        manual_seed(1);
        BeitOnnxSession session;
        using (var model = new BeitModel(config))
            session = BeitOnnxSession.FromGraph(BeitOnnxExporter.Build(model, new BeitOnnxExportOptions { Pooling = Microsoft.ML.Beit.BeitPooling.Mean, Quantization = quantization }), "cpu", threads);
        using (session)
            foreach (int batch in batches)
            {
                var pixels = new float[batch * 3 * config.ImageSize * config.ImageSize];
                var random = new Random(1);
                for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 2 - 1);
                void Pass() => session.Run(pixels, batch, 3, config.ImageSize, config.ImageSize, BeitOnnxExporter.Features);
                Pass();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < iterations; i++) Pass();
                double rate = batch * iterations / clock.Elapsed.TotalSeconds;
                var torch = Rows.LastOrDefault(r => r.Workload == "forward" && r.Size == size && r.Batch == batch && r.Dtype == "float32");
                Add(Row(quantization == BeitOnnxQuantization.None ? "forward ONNX Runtime" : "forward ONNX int8", size, config, batch, ScalarType.Float32, rate, config.ForwardFlopsPerImage()) with
                {
                    Dtype = quantization == BeitOnnxQuantization.None ? "float32" : "int8 dyn",
                    PeerImagesPerSecond = torch?.PeerImagesPerSecond, PeerGemmGflops = torch?.PeerGemmGflops,
                    Note = quantization == BeitOnnxQuantization.None
                        ? (torch is null ? "" : $"{rate / torch.ImagesPerSecond:P0} of TorchSharp's forward; ") + $"ONNX model {session.ModelBytes.Length / 1e6:F0} MB"
                        : (Rows.LastOrDefault(r => r.Workload == "forward ONNX Runtime" && r.Size == size && r.Batch == batch) is { } float32
                            ? $"{rate / float32.ImagesPerSecond:P0} of ONNX Runtime float32" : null) + $"; ONNX model {session.ModelBytes.Length / 1e6:F0} MB",
                });
            }
    }

    /// <summary>The BeitFeaturize pipeline from <paramref name="images"/> generated JPEG files, after one warm-up batch.</summary>
    public void Pipeline(string size, BeitConfig config, int batch, int images)
    {
        using var files = new BenchImages(images);
        using var pipeline = new FeaturizePipeline(config, batch, files.Folder);
        pipeline.ImagesPerSecond(files.Paths.Take(batch).ToList());
        double rate = pipeline.ImagesPerSecond(files.Paths);
        var bare = Rows.LastOrDefault(r => r.Workload == "forward" && r.Size == size && r.Batch == batch && r.Dtype == "float32");
        string note = $"{images} JPEGs 256x256";
        if (bare is not null) note += $"; {rate / bare.ImagesPerSecond:P0} of the bare forward";
        // The peer has no pipeline: compare with its bare forward at this batch (decoding counts against us only).
        Add(Row("featurize pipeline", size, config, batch, ScalarType.Float32, rate, config.ForwardFlopsPerImage()) with
        {
            PeerImagesPerSecond = bare?.PeerImagesPerSecond, PeerGemmGflops = bare?.PeerGemmGflops,
            Note = bare?.PeerImagesPerSecond is null ? note : note + "; peer figure is its bare forward",
        });
    }

    ThroughputRow Row(string workload, string size, BeitConfig config, int batch, ScalarType type, double rate, double flopsPerImage)
    {
        double gflops = rate * flopsPerImage / 1e9;
        return new ThroughputRow(workload, size, config.ImageSize, batch, type == ScalarType.BFloat16 ? "bfloat16" : "float32", rate, gflops, gflops / gemm);
    }

    void Add(ThroughputRow row)
    {
        Rows.Add(row);
        string peerRate = row.PeerImagesPerSecond is double p ? $"{p:F2}" : "-";
        string ratio = row.PeerRatio is double r ? $"{r:F2}x" : "-";
        log.WriteLine($"{row.Workload,-22} {row.Size,-6} {row.Batch,5} {row.Dtype,-9} {row.ImagesPerSecond,9:F2} {row.GflopsPerSecond,8:F1} {row.FractionOfGemm,8:P0} {peerRate,10} {ratio,6}" +
            (row.Note is null ? "" : $"  ({row.Note})"));
    }
}
