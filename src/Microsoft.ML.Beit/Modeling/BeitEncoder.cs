using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The stack of transformer blocks, with the shared relative position bias when the model uses one.</summary>
public sealed class BeitEncoder : nn.Module<Tensor, BeitEncoderOutput>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The blocks, in order.</summary>
    public readonly ModuleList<BeitLayer> layer;
    /// <summary>The table all blocks share; null unless <c>use_shared_relative_position_bias</c>.</summary>
    public readonly BeitRelativePositionBias? relative_position_bias;
#pragma warning restore IDE1006

    /// <summary>Builds the blocks; block i gets stochastic depth rate i/(L-1) of <c>drop_path_rate</c>.</summary>
    public BeitEncoder(BeitConfig config) : base(nameof(BeitEncoder))
    {
        if (config.UseSharedRelativePositionBias)
            relative_position_bias = new BeitRelativePositionBias(config.PatchGridSize, config.PatchGridSize, config.NumAttentionHeads);
        int layers = config.NumHiddenLayers;
        layer = nn.ModuleList(Enumerable.Range(0, layers)
            .Select(i => new BeitLayer(config, layers == 1 ? 0 : config.DropPathRate * i / (layers - 1)))
            .ToArray());
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override BeitEncoderOutput forward(Tensor embeddings) => forward(embeddings, false, false);

    /// <summary>Runs the blocks; optionally keeps every block's input/output and attention probabilities.</summary>
    public BeitEncoderOutput forward(Tensor embeddings, bool outputHiddenStates, bool outputAttentions)
    {
        using var scope = NewDisposeScope();
        var sharedBias = relative_position_bias?.forward();
        var hiddenStates = outputHiddenStates ? new List<Tensor> { embeddings.alias() } : null;
        var attentions = outputAttentions ? new List<Tensor>() : null;
        var x = embeddings;
        foreach (var block in layer)
        {
            var (next, probabilities) = block.forward(x, sharedBias, outputAttentions);
            x = next;
            hiddenStates?.Add(x);
            if (probabilities is not null) attentions!.Add(probabilities);
        }
        var result = new BeitEncoderOutput(x, hiddenStates, attentions);
        result.MoveToOuterDisposeScope();
        return result;
    }
}

/// <summary>What the encoder returns.</summary>
/// <param name="LastHiddenState">[B, 1 + N, D] output of the last block.</param>
/// <param name="HiddenStates">On request: the embeddings, then every block's output (L + 1 tensors).</param>
/// <param name="Attentions">On request: every block's [B, heads, T, T] attention probabilities.</param>
public sealed record BeitEncoderOutput(Tensor LastHiddenState, IReadOnlyList<Tensor>? HiddenStates, IReadOnlyList<Tensor>? Attentions) : IDisposable
{
    IEnumerable<Tensor?> All => [LastHiddenState, .. HiddenStates ?? [], .. Attentions ?? []];

    /// <summary>Moves every tensor (each once, though the last hidden state appears twice) to the enclosing dispose scope.</summary>
    public void MoveToOuterDisposeScope() => TensorScopes.MoveToOuter(All);

    /// <summary>Disposes every tensor of the output, each once.</summary>
    public void Dispose() => TensorScopes.Dispose(All);
}
