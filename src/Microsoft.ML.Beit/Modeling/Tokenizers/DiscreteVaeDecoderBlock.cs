namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// A decoder block shaped like DALL-E's <c>DecoderBlock</c> (see <see cref="DalleResidualBlock"/>): the residual path is
/// ReLU, 1x1 to a quarter of the width, ReLU, 3x3, ReLU, 3x3, ReLU, 3x3 back to the full width.
/// </summary>
public sealed class DiscreteVaeDecoderBlock : DalleResidualBlock
{
    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/> whose residual is scaled by <paramref name="postGain"/>.</summary>
    public DiscreteVaeDecoderBlock(int inChannels, int outChannels, double postGain)
        : base(nameof(DiscreteVaeDecoderBlock), inChannels, outChannels, postGain, firstKernel: 1, lastKernel: 3)
    {
    }
}
