using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// What DALL-E's encoder and decoder blocks share: <c>id_path(x) + post_gain * res_path(x)</c>, the identity path a 1x1
/// convolution only when the width changes, and a pre-activation residual path of four convolutions through a bottleneck
/// of a quarter of the width. The two blocks differ only in which end of the residual path has the 1x1 convolution.
/// </summary>
public abstract class DalleResidualBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The 1x1 projection when the width changes; null (identity, no weights) when it does not.</summary>
    public readonly DalleConv2d? id_path;
    /// <summary>relu_1, conv_1, relu_2, conv_2 (3x3), relu_3, conv_3 (3x3), relu_4, conv_4.</summary>
    public readonly Sequential res_path;
#pragma warning restore IDE1006

    readonly double _postGain;

    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/>; conv_1 and conv_4 have the given kernels.</summary>
    private protected DalleResidualBlock(string name, int inChannels, int outChannels, double postGain, int firstKernel, int lastKernel) : base(name)
    {
        if (outChannels % 4 != 0)
            throw new ArgumentException($"A DALL-E block's width must be a multiple of 4 (its bottleneck is a quarter of it); got {outChannels}.", nameof(outChannels));
        int hidden = outChannels / 4;
        if (inChannels != outChannels) id_path = new DalleConv2d(inChannels, outChannels, 1);
        res_path = nn.Sequential(
            ("relu_1", nn.ReLU()), ("conv_1", new DalleConv2d(inChannels, hidden, firstKernel)),
            ("relu_2", nn.ReLU()), ("conv_2", new DalleConv2d(hidden, hidden, 3)),
            ("relu_3", nn.ReLU()), ("conv_3", new DalleConv2d(hidden, hidden, 3)),
            ("relu_4", nn.ReLU()), ("conv_4", new DalleConv2d(hidden, outChannels, lastKernel)));
        _postGain = postGain;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var identity = id_path is null ? input : id_path.forward(input);
        return ScalarOps.Blend(res_path.forward(input), _postGain, identity, 1.0).MoveToOuterDisposeScope();
    }
}
