using System.Diagnostics;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>
/// Where a forward pass's time goes: the model's linear-layer products alone (per block q/k/v, the attention output and
/// the two MLP layers, as [batch x tokens, in] x [in, out] matrix products) against the whole pass. What the products do
/// not explain is attention, softmax, LayerNorm, GELU and the patch embedding: few FLOPs, memory-bound time.
/// </summary>
internal static class ForwardBreakdown
{
    /// <summary>Seconds per forward pass, seconds of the linear products alone, and the products' share of the FLOPs.</summary>
    public static (double Forward, double Linear, double LinearFlopShare) Measure(BeitConfig config, int batch, int iterations)
    {
        int tokens = config.NumPatches + 1, d = config.HiddenSize, m = config.IntermediateSize;
        manual_seed(1);
        using var model = new BeitModel(config);
        model.eval();
        using var pixels = randn(batch, 3, config.ImageSize, config.ImageSize);
        double forward = Seconds(() => { using var g = no_grad(); model.forward(pixels); }, iterations);
        using var x = randn(batch * tokens, d);
        using var h = randn(batch * tokens, m);
        using var qkv = randn(d, 3 * d);
        using var output = randn(d, d);
        using var up = randn(d, m);
        using var down = randn(m, d);
        double linear = config.NumHiddenLayers * Seconds(() => { x.matmul(qkv); x.matmul(output); x.matmul(up); h.matmul(down); }, iterations * 2);
        double linearFlops = config.NumHiddenLayers * 2.0 * batch * tokens * (4.0 * d * d + 2.0 * d * m);
        return (forward, linear, linearFlops / (config.ForwardFlopsPerImage() * batch));
    }

    static double Seconds(Action pass, int iterations)
    {
        using (NewDisposeScope()) pass();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
            using (NewDisposeScope()) pass();
        return clock.Elapsed.TotalSeconds / iterations;
    }
}
