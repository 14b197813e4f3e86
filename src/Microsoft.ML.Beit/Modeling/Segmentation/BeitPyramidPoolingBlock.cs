using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// One branch of the pyramid pooling module (Hugging Face <c>BeitPyramidPoolingBlock</c>): adaptive average
/// pooling to a <c>scale</c> x <c>scale</c> grid, then a 1x1 <see cref="BeitConvModule"/>. The children are
/// registered as <c>0</c> and <c>1</c>, the keys the checkpoints use.
/// </summary>
public sealed class BeitPyramidPoolingBlock : nn.Module<Tensor, Tensor>
{
    // A tuple, not module fields: registration would add the children a second time under the field names.
    readonly (nn.Module<Tensor, Tensor> Pool, BeitConvModule Conv) _layers;

    /// <summary>Pools to <paramref name="poolScale"/> x <paramref name="poolScale"/> and projects to <paramref name="channels"/>.</summary>
    public BeitPyramidPoolingBlock(long poolScale, long inChannels, long channels) : base(nameof(BeitPyramidPoolingBlock))
    {
        _layers = (nn.AdaptiveAvgPool2d(poolScale), new BeitConvModule(inChannels, channels, kernelSize: 1));
        register_module("0", _layers.Pool);
        register_module("1", _layers.Conv);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return _layers.Conv.forward(_layers.Pool.forward(input)).MoveToOuterDisposeScope();
    }
}
