using System.Diagnostics;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>
/// Times a randomly initialised BEiT on random 224x224 (or the config's size) inputs: inference forward passes, or
/// training steps (forward, cross-entropy, backward, AdamW with layer decay). The code the bench and throughput
/// commands both measure with, so their figures mean the same thing.
/// </summary>
internal sealed class ModelThroughput : IDisposable
{
    readonly nn.Module _model;
    readonly BeitAdamW? _optimizer;
    readonly ScalarType _type;

    public ModelThroughput(BeitConfig config, ScalarType type, bool training)
    {
        Config = config;
        Training = training;
        _type = type;
        manual_seed(1);
        if (training) config.SetLabels(Enumerable.Range(0, 1000).Select(i => $"class_{i}").ToList());
        _model = training ? new BeitForImageClassification(config) : new BeitModel(config);
        _model.to(type);
        if (training) _model.train(); else _model.eval();
        _optimizer = training ? new BeitAdamW(BeitLayerDecay.Groups(_model, config.NumHiddenLayers, 0.75, 0.05), 0.9, 0.999, 1e-8) : null;
    }

    public BeitConfig Config { get; }

    public bool Training { get; }

    /// <summary>FLOPs of one image's work: the forward pass, or 3x that for a training step (backward is about twice the forward).</summary>
    public double FlopsPerImage => (Training ? 3 : 1) * Config.ForwardFlopsPerImage();

    /// <summary>Images per second at <paramref name="batch"/>, over <paramref name="iterations"/> timed passes after one warm-up pass.</summary>
    public double ImagesPerSecond(int batch, int iterations)
    {
        using var pixels = randn([batch, 3, Config.ImageSize, Config.ImageSize]).to(_type);
        using var labels = randint(0, 1000, [batch]);
        Pass(pixels, labels);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++) Pass(pixels, labels);
        return batch * iterations / clock.Elapsed.TotalSeconds;
    }

    void Pass(Tensor pixels, Tensor labels)
    {
        using var scope = NewDisposeScope();
        if (!Training)
        {
            using var noGrad = no_grad();
            ((BeitModel)_model).forward(pixels);
            return;
        }
        var logits = ((BeitForImageClassification)_model).forward(pixels).Logits;
        nn.functional.cross_entropy(logits.to(ScalarType.Float32), labels).backward();
        _optimizer!.Step(1e-4);
        _model.zero_grad();
    }

    /// <summary>The float32 rate of 2048 x 2048 x 2048 matrix products in this process, in GFLOP/s (best of five after a warm-up).</summary>
    public static double GemmRate()
    {
        using var scope = NewDisposeScope();
        var a = randn(2048, 2048);
        var b = randn(2048, 2048);
        a.matmul(b).Dispose();
        double best = 0;
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            a.matmul(b).Dispose();
            best = Math.Max(best, 2.0 * 2048 * 2048 * 2048 / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    public void Dispose()
    {
        _optimizer?.Dispose();
        _model.Dispose();
    }
}
