using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The decoder of a trainable discrete VAE, mirroring <see cref="DalleEncoder"/> the way DALL-E's decoder mirrors its
/// encoder: a 1x1 convolution from the (soft) one-hot token grid to the widest group, groups of
/// <see cref="DiscreteVaeDecoderBlock"/>s whose widths halve from group to group with a 2x nearest upsampling after
/// every group but the last, then ReLU, a 1x1 convolution to the image channels and a sigmoid, giving pixels in [0, 1].
/// (DALL-E's own decoder ends in logit-Laplace parameters instead; this one is trained with a pixel MSE.)
/// </summary>
public sealed class DiscreteVaeDecoder : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names follow DALL-E's decoder keys.
    /// <summary>input (1x1 conv), group_1 .. group_n (blocks, then <c>upsample</c> except in the last group), output (relu, conv).</summary>
    public readonly Sequential blocks;
#pragma warning restore IDE1006

    readonly DalleEncoderConfig _config;

    /// <summary>The decoder matching an encoder of <paramref name="config"/> (same vocabulary, widths, groups and blocks).</summary>
    public DiscreteVaeDecoder(DalleEncoderConfig config) : base(nameof(DiscreteVaeDecoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        _config = config;
        int width = config.GroupWidth(config.GroupCount);
        var children = new List<(string, nn.Module<Tensor, Tensor>)> { ("input", new DalleConv2d(config.VocabularySize, width, 1)) };
        for (int g = 1; g <= config.GroupCount; g++)
        {
            int groupWidth = config.GroupWidth(config.GroupCount + 1 - g);
            var group = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int i = 1; i <= config.BlocksPerGroup; i++)
            {
                group.Add(($"block_{i}", new DiscreteVaeDecoderBlock(width, groupWidth, config.PostGain)));
                width = groupWidth;
            }
            if (g < config.GroupCount) group.Add(("upsample", nn.Upsample(scale_factor: [2.0, 2.0], mode: UpsampleMode.Nearest)));
            children.Add(($"group_{g}", nn.Sequential([.. group])));
        }
        children.Add(("output", nn.Sequential(("relu", nn.ReLU()), ("conv", new DalleConv2d(width, config.InputChannels, 1)))));
        blocks = nn.Sequential([.. children]);
        RegisterComponents();
    }

    /// <summary>Pixels [B, C, g*d, g*d] in [0, 1] from a (soft) one-hot grid [B, vocab, g, g].</summary>
    public override Tensor forward(Tensor codes)
    {
        if (codes.dim() != 4 || codes.shape[1] != _config.VocabularySize)
            throw new ArgumentException(
                $"The decoder reads [batch, {_config.VocabularySize}, grid, grid] token distributions; got [{string.Join(", ", codes.shape)}].");
        using var scope = NewDisposeScope();
        return blocks.forward(codes).sigmoid().MoveToOuterDisposeScope();
    }
}
