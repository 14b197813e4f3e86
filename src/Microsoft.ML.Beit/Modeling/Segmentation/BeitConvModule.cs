using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Convolution without bias, BatchNorm and ReLU (Hugging Face <c>BeitConvModule</c>, mmcv <c>ConvModule</c>):
/// the building block of the UperNet and FCN heads.
/// </summary>
public sealed class BeitConvModule : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The convolution (no bias: the BatchNorm supplies it).</summary>
    public readonly Conv2d conv;
    /// <summary>BatchNorm with PyTorch's defaults (eps 1e-5, momentum 0.1).</summary>
    public readonly BatchNorm2d bn;
#pragma warning restore IDE1006

    /// <summary>A <paramref name="kernelSize"/> x <paramref name="kernelSize"/> convolution from <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    public BeitConvModule(long inChannels, long outChannels, long kernelSize, long padding = 0, long dilation = 1) : base(nameof(BeitConvModule))
    {
        conv = nn.Conv2d(inChannels, outChannels, kernelSize, padding: padding, dilation: dilation, bias: false);
        bn = nn.BatchNorm2d(outChannels);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return nn.functional.relu(bn.forward(conv.forward(input))).MoveToOuterDisposeScope();
    }
}
