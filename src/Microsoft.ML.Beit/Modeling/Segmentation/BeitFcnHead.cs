using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The auxiliary FCN head (Hugging Face <c>BeitFCNHead</c>): on the third feature map, <c>auxiliary_num_convs</c>
/// 3x3 <see cref="BeitConvModule"/>s to <c>auxiliary_channels</c>, optionally concatenated with the input and
/// fused, then a 1x1 classifier. It only adds a training loss (weight <c>auxiliary_loss_weight</c>).
/// </summary>
public sealed class BeitFcnHead : nn.Module<IReadOnlyList<Tensor>, Tensor>
{
    /// <summary>Which feature map the head reads (the third, 1/16 of the input in BEiT).</summary>
    public const int InputIndex = 2;

#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The convolutions; null when <c>auxiliary_num_convs</c> is 0.</summary>
    public readonly Sequential? convs;
    /// <summary>Fusion of input and convolved features when <c>auxiliary_concat_input</c>; else null.</summary>
    public readonly BeitConvModule? conv_cat;
    /// <summary>1x1 convolution to class logits.</summary>
    public readonly Conv2d classifier;
#pragma warning restore IDE1006

    /// <summary>Builds the head for <paramref name="config"/>.</summary>
    public BeitFcnHead(BeitConfig config) : base(nameof(BeitFcnHead))
    {
        long input = config.HiddenSize, channels = config.AuxiliaryChannels;
        if (config.AuxiliaryNumConvs > 0)
            convs = nn.Sequential([.. Enumerable.Range(0, config.AuxiliaryNumConvs).Select(i =>
                ((string, nn.Module<Tensor, Tensor>))(i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    new BeitConvModule(i == 0 ? input : channels, channels, kernelSize: 3, padding: 1)))]);
        else if (channels != input)
            throw new ArgumentException(
                $"An auxiliary head without convolutions reads the {input}-channel feature map itself, so auxiliary_channels must be {input}, not {channels}.", nameof(config));
        if (config.AuxiliaryConcatInput)
            conv_cat = new BeitConvModule(input + channels, channels, kernelSize: 3, padding: 1);
        classifier = nn.Conv2d(channels, config.NumLabels, 1);
        RegisterComponents();
    }

    /// <summary>Class logits at the third map's resolution.</summary>
    public override Tensor forward(IReadOnlyList<Tensor> features)
    {
        using var scope = NewDisposeScope();
        var input = features[InputIndex];
        var output = convs?.forward(input) ?? input;
        if (conv_cat is not null) output = conv_cat.forward(cat([input, output], 1));
        return classifier.forward(output).MoveToOuterDisposeScope();
    }
}
