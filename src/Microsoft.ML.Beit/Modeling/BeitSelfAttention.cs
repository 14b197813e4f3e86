using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Multi-head self-attention with relative position bias. The key projection has no bias, as in the
/// original BEiT (unilm stores only <c>q_bias</c> and <c>v_bias</c>).
/// </summary>
public sealed class BeitSelfAttention : nn.Module<Tensor, Tensor?, bool, (Tensor Context, Tensor? Probabilities)>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>Query projection.</summary>
    public readonly Linear query;
    /// <summary>Key projection (no bias).</summary>
    public readonly Linear key;
    /// <summary>Value projection.</summary>
    public readonly Linear value;
    /// <summary>This block's own bias table; null when the model shares one table or has none.</summary>
    public readonly BeitRelativePositionBias? relative_position_bias;
#pragma warning restore IDE1006

    readonly int _heads;
    readonly int _headSize;
    readonly double _dropout;

    /// <summary>Builds the attention for <paramref name="config"/>.</summary>
    public BeitSelfAttention(BeitConfig config) : base(nameof(BeitSelfAttention))
    {
        if (config.HiddenSize % config.NumAttentionHeads != 0)
            throw new ArgumentException($"hidden size {config.HiddenSize} is not divisible by {config.NumAttentionHeads} heads.");
        _heads = config.NumAttentionHeads;
        _headSize = config.HeadSize;
        _dropout = config.AttentionProbsDropoutProb;
        query = nn.Linear(config.HiddenSize, config.HiddenSize);
        key = nn.Linear(config.HiddenSize, config.HiddenSize, hasBias: false);
        value = nn.Linear(config.HiddenSize, config.HiddenSize);
        if (config.UseRelativePositionBias)
            relative_position_bias = new BeitRelativePositionBias(config.PatchGridSize, config.PatchGridSize, config.NumAttentionHeads);
        RegisterComponents();
    }

    /// <summary>
    /// Attends over [B, T, D] tokens. <paramref name="sharedBias"/> is the model's shared [1, heads, T, T]
    /// bias, if any. With <paramref name="outputAttentions"/> the softmax probabilities [B, heads, T, T]
    /// are returned too (computed explicitly; otherwise LibTorch's fused attention runs).
    /// </summary>
    public override (Tensor Context, Tensor? Probabilities) forward(Tensor hiddenStates, Tensor? sharedBias, bool outputAttentions)
    {
        using var scope = NewDisposeScope();
        long batch = hiddenStates.shape[0], tokens = hiddenStates.shape[1];
        Tensor Heads(Tensor x) => x.view(batch, tokens, _heads, _headSize).transpose(1, 2);
        var q = Heads(query.forward(hiddenStates));
        var k = Heads(key.forward(hiddenStates));
        var v = Heads(value.forward(hiddenStates));

        Tensor? bias = relative_position_bias?.forward();
        if (sharedBias is not null)
            bias = bias is null ? sharedBias : ScalarOps.Add(bias, sharedBias);
        if (bias is not null && bias.dtype != q.dtype)
            bias = bias.to(q.dtype);

        Tensor context;
        Tensor? probabilities = null;
        double dropout = training ? _dropout : 0.0;
        if (outputAttentions)
        {
            var scores = matmul(ScalarOps.Mul(q, 1.0 / Math.Sqrt(_headSize)), k.transpose(-1, -2));
            if (bias is not null) scores = ScalarOps.Add(scores, bias);
            probabilities = scores.softmax(-1);
            context = matmul(nn.functional.dropout(probabilities, dropout, training), v);
        }
        else
        {
            context = nn.functional.scaled_dot_product_attention(q, k, v, bias, dropout);
        }
        context = context.transpose(1, 2).reshape(batch, tokens, _heads * _headSize);
        return (context.MoveToOuterDisposeScope(), probabilities?.MoveToOuterDisposeScope());
    }
}
