using System.Globalization;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>The statistics of one finished epoch of dVAE training.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Epochs in the run.</param>
/// <param name="Steps">Optimizer steps taken so far.</param>
/// <param name="ReconstructionLoss">Mean pixel MSE (pixels in [0, 1]) of the relaxed reconstructions over the epoch.</param>
/// <param name="KlDivergence">Mean KL divergence of the token distribution from uniform, nats per grid position.</param>
/// <param name="KlWeight">Weight of the KL term at the epoch's last step.</param>
/// <param name="Temperature">Gumbel-softmax temperature at the epoch's last step.</param>
/// <param name="LearningRate">Learning rate at the epoch's last step.</param>
/// <param name="CodesUsed">Distinct argmax tokens over all positions of the epoch's images.</param>
/// <param name="VocabularySize">Number of tokens.</param>
/// <param name="Perplexity">exp(entropy) of the epoch's argmax token histogram: the effective number of codes in use.</param>
/// <param name="Elapsed">Time since training started.</param>
public sealed record DiscreteVaeProgress(int Epoch, int Epochs, int Steps, double ReconstructionLoss, double KlDivergence, double KlWeight,
    double Temperature, double LearningRate, int CodesUsed, int VocabularySize, double Perplexity, TimeSpan Elapsed)
{
    /// <summary>Fraction of the vocabulary used: <see cref="CodesUsed"/> / <see cref="VocabularySize"/>.</summary>
    public double CodebookUsage => (double)CodesUsed / VocabularySize;

    /// <summary>One line of <c>name value</c> pairs, for logs.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"epoch {Epoch}/{Epochs} reconstruction_mse {ReconstructionLoss:F5} kl {KlDivergence:F4} kl_weight {KlWeight:G3} temperature {Temperature:F4} " +
        $"lr {LearningRate:E2} codes_used {CodesUsed}/{VocabularySize} codebook_usage {CodebookUsage:F3} perplexity {Perplexity:F1} elapsed {Elapsed.TotalSeconds:F1}s");
}
