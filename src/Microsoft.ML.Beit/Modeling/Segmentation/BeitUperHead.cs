using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The UperNet decode head (Hugging Face <c>BeitUperHead</c>, Xiao et al. 2018): pyramid pooling on the
/// coarsest feature map, a top-down feature pyramid over the four maps, fusion at the finest resolution
/// and a 1x1 classifier. Every map has <c>hidden_size</c> channels and so does every head layer.
/// </summary>
public sealed class BeitUperHead : nn.Module<IReadOnlyList<Tensor>, Tensor>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The pooling branches on the coarsest map.</summary>
    public readonly BeitPyramidPoolingModule psp_modules;
    /// <summary>3x3 fusion of the coarsest map with its pooled branches.</summary>
    public readonly BeitConvModule bottleneck;
    /// <summary>1x1 projections of the three finer maps.</summary>
    public readonly ModuleList<BeitConvModule> lateral_convs;
    /// <summary>3x3 smoothing of the three finer pyramid levels.</summary>
    public readonly ModuleList<BeitConvModule> fpn_convs;
    /// <summary>3x3 fusion of all four levels at the finest resolution.</summary>
    public readonly BeitConvModule fpn_bottleneck;
    /// <summary>1x1 convolution to class logits.</summary>
    public readonly Conv2d classifier;
#pragma warning restore IDE1006

    /// <summary>Builds the head for <paramref name="config"/> (<c>pool_scales</c>, <c>hidden_size</c>, the labels).</summary>
    public BeitUperHead(BeitConfig config) : base(nameof(BeitUperHead))
    {
        long channels = config.HiddenSize;
        psp_modules = new BeitPyramidPoolingModule(config.PoolScales, channels, channels);
        bottleneck = new BeitConvModule(channels * (1 + config.PoolScales.Count), channels, kernelSize: 3, padding: 1);
        lateral_convs = new ModuleList<BeitConvModule>([.. Enumerable.Range(0, 3).Select(_ => new BeitConvModule(channels, channels, kernelSize: 1))]);
        fpn_convs = new ModuleList<BeitConvModule>([.. Enumerable.Range(0, 3).Select(_ => new BeitConvModule(channels, channels, kernelSize: 3, padding: 1))]);
        fpn_bottleneck = new BeitConvModule(4 * channels, channels, kernelSize: 3, padding: 1);
        classifier = nn.Conv2d(channels, config.NumLabels, 1);
        RegisterComponents();
    }

    /// <summary>Class logits at the finest map's resolution (a quarter of the input's) from the four feature maps, finest first.</summary>
    public override Tensor forward(IReadOnlyList<Tensor> features)
    {
        using var scope = NewDisposeScope();
        return classifier.forward(Fuse(features)).MoveToOuterDisposeScope();
    }

    /// <summary>The pooled branch (Hugging Face <c>psp_forward</c>): the coarsest map and its pooled versions, fused by <see cref="bottleneck"/>.</summary>
    public Tensor PspForward(Tensor coarsest)
    {
        using var scope = NewDisposeScope();
        var branches = psp_modules.forward(coarsest);
        return bottleneck.forward(cat([coarsest, .. branches], 1)).MoveToOuterDisposeScope();
    }

    /// <summary>The fused features that feed <see cref="classifier"/>: the output of <see cref="fpn_bottleneck"/>.</summary>
    public Tensor Fuse(IReadOnlyList<Tensor> features)
    {
        if (features.Count != 4)
            throw new ArgumentException($"The UperNet head takes 4 feature maps, not {features.Count}.", nameof(features));
        using var scope = NewDisposeScope();
        var laterals = new Tensor[4];
        for (int i = 0; i < 3; i++) laterals[i] = lateral_convs[i].forward(features[i]);
        laterals[3] = PspForward(features[3]);
        // Top-down: each level adds the (already updated) coarser level, resized to its own size.
        for (int i = 3; i > 0; i--)
            laterals[i - 1] = ScalarOps.Add(laterals[i - 1], SegmentationResize.Bilinear(laterals[i], Size(laterals[i - 1])));
        var outputs = new Tensor[4];
        for (int i = 0; i < 3; i++) outputs[i] = fpn_convs[i].forward(laterals[i]);
        outputs[3] = laterals[3];
        for (int i = 1; i < 4; i++) outputs[i] = SegmentationResize.Bilinear(outputs[i], Size(outputs[0]));
        return fpn_bottleneck.forward(cat(outputs, 1)).MoveToOuterDisposeScope();
    }

    static long[] Size(Tensor map) => [map.shape[2], map.shape[3]];
}
