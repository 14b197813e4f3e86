namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// DALL-E's <c>EncoderBlock</c> (see <see cref="DalleResidualBlock"/>): the residual path is ReLU, 3x3 to a quarter of the
/// width, ReLU, 3x3, ReLU, 3x3, ReLU, 1x1 back to the full width.
/// </summary>
public sealed class DalleEncoderBlock : DalleResidualBlock
{
    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/> whose residual is scaled by <paramref name="postGain"/>.</summary>
    public DalleEncoderBlock(int inChannels, int outChannels, double postGain)
        : base(nameof(DalleEncoderBlock), inChannels, outChannels, postGain, firstKernel: 3, lastKernel: 1)
    {
    }
}
