using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// OpenAI's DALL-E dVAE encoder (<c>dall_e/encoder.py</c>), the visual tokenizer of BEiT: pixels mapped by
/// <see cref="MapPixels"/> in, token logits on a grid of 1/<see cref="DalleEncoderConfig.Downsampling"/> the input size
/// out. Parameter names equal the original's state-dict keys (<c>blocks.input.w</c>,
/// <c>blocks.group_1.block_1.res_path.conv_1.w</c>, <c>blocks.group_2.block_1.id_path.w</c>, <c>blocks.output.conv.b</c>),
/// so a safetensors copy of <c>encoder.pkl</c>'s state dict loads by name.
/// </summary>
public sealed class DalleEncoder : nn.Module<Tensor, Tensor>
{
    /// <summary>DALL-E's <c>logit_laplace_eps</c>: <see cref="MapPixels"/> maps [0, 1] to [eps, 1 - eps].</summary>
    public const double LogitLaplaceEps = 0.1;

#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>input (7x7 conv), group_1 .. group_n (blocks, then <c>pool</c> except in the last group), output (relu, conv).</summary>
    public readonly Sequential blocks;
#pragma warning restore IDE1006

    // The same children as `blocks`, kept in a list (which RegisterComponents ignores) to read the stages one by one.
    readonly List<nn.Module<Tensor, Tensor>> _stages = [];

    /// <summary>Builds the encoder for <paramref name="config"/>, initialised as DALL-E does.</summary>
    /// <exception cref="ArgumentException">The config is not buildable; the message names the value.</exception>
    public DalleEncoder(DalleEncoderConfig config) : base(nameof(DalleEncoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var children = new List<(string, nn.Module<Tensor, Tensor>)> { ("input", new DalleConv2d(config.InputChannels, config.HiddenChannels, 7)) };
        int width = config.HiddenChannels;
        for (int g = 1; g <= config.GroupCount; g++)
        {
            var group = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int i = 1; i <= config.BlocksPerGroup; i++)
            {
                group.Add(($"block_{i}", new DalleEncoderBlock(width, config.GroupWidth(g), config.PostGain)));
                width = config.GroupWidth(g);
            }
            if (g < config.GroupCount) group.Add(("pool", nn.MaxPool2d(2, 2)));
            children.Add(($"group_{g}", nn.Sequential([.. group])));
        }
        children.Add(("output", nn.Sequential(("relu", nn.ReLU()), ("conv", new DalleConv2d(width, config.VocabularySize, 1)))));
        _stages.AddRange(children.Select(c => c.Item2));
        blocks = nn.Sequential([.. children]);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public DalleEncoderConfig Config { get; }

    /// <summary>
    /// DALL-E's <c>map_pixels</c>: (1 - 2 eps) x + eps with eps = <see cref="LogitLaplaceEps"/>, so [0, 1] becomes
    /// [0.1, 0.9]. The encoder expects its input mapped this way.
    /// </summary>
    public static Tensor MapPixels(Tensor pixels)
    {
        using var scale = (1 - 2 * LogitLaplaceEps).ToScalar();
        using var shift = LogitLaplaceEps.ToScalar();
        return pixels.mul(scale).add_(shift);
    }

    /// <summary>Logits [B, vocab, H/d, W/d] of mapped pixels [B, C, H, W] (H and W divisible by d = the downsampling).</summary>
    public override Tensor forward(Tensor mappedPixels)
    {
        CheckInput(mappedPixels);
        using var scope = NewDisposeScope();
        return blocks.forward(mappedPixels).MoveToOuterDisposeScope();
    }

    /// <summary>Like <see cref="forward"/>, keeping the activation after the input convolution and after each group.</summary>
    public DalleEncoderOutput ForwardWithStages(Tensor mappedPixels)
    {
        CheckInput(mappedPixels);
        using var scope = NewDisposeScope();
        var afterInput = _stages[0].forward(mappedPixels);
        var groups = new List<Tensor>();
        var x = afterInput;
        for (int g = 1; g <= Config.GroupCount; g++)
            groups.Add(x = _stages[g].forward(x));
        var logits = _stages[^1].forward(x);
        TensorScopes.MoveToOuter([logits, afterInput, .. groups]);
        return new DalleEncoderOutput(logits, afterInput, groups);
    }

    void CheckInput(Tensor pixels)
    {
        if (pixels.dim() != 4 || pixels.shape[1] != Config.InputChannels)
            throw new ArgumentException(
                $"The DALL-E encoder reads [batch, {Config.InputChannels}, height, width] pixels; got [{string.Join(", ", pixels.shape)}].");
        int d = Config.Downsampling;
        if (pixels.shape[2] % d != 0 || pixels.shape[3] % d != 0)
            throw new ArgumentException(
                $"The DALL-E encoder downsamples by {d}, so height and width must be multiples of {d}; got {pixels.shape[2]}x{pixels.shape[3]}.");
    }
}
