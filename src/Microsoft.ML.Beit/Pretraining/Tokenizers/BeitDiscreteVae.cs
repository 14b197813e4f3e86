using Microsoft.ML.Beit.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// A discrete VAE to train as a visual tokenizer on one's own images: the DALL-E encoder architecture
/// (<see cref="encoder"/>, pixels to token logits on a grid) and a mirrored decoder (<see cref="decoder"/>, a soft or
/// hard one-hot token grid back to pixels). Training relaxes the token choice with Gumbel-softmax
/// (<see cref="Relaxed"/>); tokenizing takes the argmax of the logits (<see cref="Tokens"/>).
/// State-dict keys are <c>encoder.blocks...</c> (DALL-E's encoder keys under <c>encoder.</c>) and <c>decoder.blocks...</c>.
/// </summary>
public sealed class BeitDiscreteVae : nn.Module
{
#pragma warning disable IDE1006 // Field names are the state-dict key segments.
    /// <summary>Pixels (mapped by <see cref="DalleEncoder.MapPixels"/>) to token logits.</summary>
    public readonly DalleEncoder encoder;
    /// <summary>Token distributions to pixels in [0, 1].</summary>
    public readonly DiscreteVaeDecoder decoder;
#pragma warning restore IDE1006

    /// <summary>Builds a randomly initialised dVAE (DALL-E's initialisation; seed it with <c>torch.manual_seed</c>).</summary>
    /// <exception cref="ArgumentException">The config is invalid; the message names the value.</exception>
    public BeitDiscreteVae(DiscreteVaeConfig config) : base(nameof(BeitDiscreteVae))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        encoder = new DalleEncoder(config.EncoderConfig);
        decoder = new DiscreteVaeDecoder(config.EncoderConfig);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public DiscreteVaeConfig Config { get; }

    /// <summary>Token logits [B, vocab, g, g] of pixels [B, 3, S, S] in [0, 1].</summary>
    public Tensor EncoderLogits(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        return encoder.forward(DalleEncoder.MapPixels(pixels)).MoveToOuterDisposeScope();
    }

    /// <summary>Pixels [B, 3, S, S] in [0, 1] from token distributions (soft or one-hot) [B, vocab, g, g].</summary>
    public Tensor Decode(Tensor codes) => decoder.forward(codes);

    /// <summary>Token ids [B, g*g] (row-major), the argmax of the logits.</summary>
    public Tensor Tokens(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        return TokenizerPixels.Argmax(EncoderLogits(pixels)).MoveToOuterDisposeScope();
    }

    /// <summary>Pixels [B, 3, S, S] decoded from token ids [B, g*g].</summary>
    public Tensor DecodeTokens(Tensor tokens)
    {
        int g = Config.GridSize;
        if (tokens.dim() != 2 || tokens.shape[1] != (long)g * g)
            throw new ArgumentException($"Token ids must be [batch, {g * g}] for a {g}x{g} grid; got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        using var scope = NewDisposeScope();
        var oneHot = nn.functional.one_hot(tokens.to(ScalarType.Int64), Config.VocabularySize)
            .to(ScalarType.Float32).view(tokens.shape[0], g, g, Config.VocabularySize).permute(0, 3, 1, 2);
        return decoder.forward(oneHot).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The training pass: logits, a Gumbel-softmax sample at <paramref name="temperature"/>
    /// (softmax((logits + Gumbel noise) / temperature) over the vocabulary, drawn from torch's global generator), and
    /// its reconstruction.
    /// </summary>
    public DiscreteVaeForward Relaxed(Tensor pixels, double temperature)
    {
        if (!(temperature > 0))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The Gumbel-softmax temperature must be positive.");
        using var scope = NewDisposeScope();
        var logits = EncoderLogits(pixels);
        // Gumbel(0, 1) = -log(E) with E ~ Exponential(1), as torch.nn.functional.gumbel_softmax draws it.
        var gumbel = empty_like(logits).exponential_().log_().neg_();
        var soft = ScalarOps.Mul(ScalarOps.Add(logits, gumbel), 1 / temperature).softmax(1);
        // At low temperatures most probabilities underflow to denormals, which make CPU convolutions (and their
        // gradients) tens of times slower; they carry nothing, so they become exact zeros (with zero gradient).
        using (var floor = 1e-20.ToScalar())
            soft = soft.mul(soft.ge(floor));
        var reconstruction = decoder.forward(soft);
        TensorScopes.MoveToOuter([logits, reconstruction]);
        return new DiscreteVaeForward(logits, reconstruction);
    }
}

/// <summary>What one relaxed pass of <see cref="BeitDiscreteVae"/> produces.</summary>
/// <param name="Logits">Token logits [B, vocab, g, g].</param>
/// <param name="Reconstruction">Decoded pixels [B, 3, S, S] in [0, 1].</param>
public sealed record DiscreteVaeForward(Tensor Logits, Tensor Reconstruction) : IDisposable
{
    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Logits.Dispose();
        Reconstruction.Dispose();
    }
}
