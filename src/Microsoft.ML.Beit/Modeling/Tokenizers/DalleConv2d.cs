using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The convolution of OpenAI's DALL-E dVAE (<c>dall_e/utils.py</c> <c>Conv2d</c>): stride 1, zero "same" padding
/// (<c>(k - 1) / 2</c>), and parameters named <c>w</c> and <c>b</c> rather than <c>weight</c> and <c>bias</c>, which is
/// why TorchSharp's <c>nn.Conv2d</c> (parameters <c>weight</c>, <c>bias</c>) cannot load its checkpoints by name.
/// </summary>
public sealed class DalleConv2d : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The kernel, [out, in, k, k].</summary>
    public readonly Parameter w;
    /// <summary>The bias, [out].</summary>
    public readonly Parameter b;
#pragma warning restore IDE1006

    readonly long[] _padding;

    /// <summary>
    /// A <paramref name="kernelSize"/> x <paramref name="kernelSize"/> convolution from <paramref name="inChannels"/> to
    /// <paramref name="outChannels"/>, initialised as DALL-E does: weights normal with standard deviation
    /// 1/sqrt(in * k^2), biases zero.
    /// </summary>
    public DalleConv2d(int inChannels, int outChannels, int kernelSize) : base(nameof(DalleConv2d))
    {
        if (inChannels < 1 || outChannels < 1)
            throw new ArgumentOutOfRangeException(nameof(inChannels), $"A convolution needs at least one input and one output channel; got {inChannels} -> {outChannels}.");
        if (kernelSize < 1 || kernelSize % 2 == 0)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "DALL-E convolutions use odd kernel sizes (\"same\" padding (k - 1) / 2).");
        w = new Parameter(empty(outChannels, inChannels, kernelSize, kernelSize).normal_(0, 1 / Math.Sqrt(inChannels * kernelSize * kernelSize)));
        b = new Parameter(zeros(outChannels));
        _padding = [(kernelSize - 1) / 2, (kernelSize - 1) / 2];
        RegisterComponents();
    }

    /// <summary>Input channels.</summary>
    public long InChannels => w.shape[1];

    /// <summary>Output channels.</summary>
    public long OutChannels => w.shape[0];

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => nn.functional.conv2d(input, w, b, padding: _padding);
}
