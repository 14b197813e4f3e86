using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The pyramid pooling module of PSPNet (Hugging Face <c>BeitPyramidPoolingModule</c>): one
/// <see cref="BeitPyramidPoolingBlock"/> per pool scale, each output resized back to the input's size.
/// </summary>
public sealed class BeitPyramidPoolingModule : nn.Module<Tensor, IReadOnlyList<Tensor>>
{
    readonly List<BeitPyramidPoolingBlock> _blocks = [];

    /// <summary>Branches for <paramref name="poolScales"/> (1, 2, 3, 6 in BEiT), registered as <c>0</c>, <c>1</c>, ...</summary>
    public BeitPyramidPoolingModule(IReadOnlyList<int> poolScales, long inChannels, long channels) : base(nameof(BeitPyramidPoolingModule))
    {
        for (int i = 0; i < poolScales.Count; i++)
        {
            var block = new BeitPyramidPoolingBlock(poolScales[i], inChannels, channels);
            _blocks.Add(block);
            register_module(i.ToString(System.Globalization.CultureInfo.InvariantCulture), block);
        }
    }

    /// <summary>Each branch's output at the input's spatial size (bilinear, align_corners false).</summary>
    public override IReadOnlyList<Tensor> forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var size = new[] { input.shape[2], input.shape[3] };
        var outputs = _blocks.Select(b => SegmentationResize.Bilinear(b.forward(input), size)).ToList();
        foreach (var o in outputs) o.MoveToOuterDisposeScope();
        return outputs;
    }
}
