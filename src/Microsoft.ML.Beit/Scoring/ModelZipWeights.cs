using Microsoft.ML.Beit.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>Weights stored in an entry of an ML.NET model zip, in safetensors format.</summary>
internal static class ModelZipWeights
{
    /// <summary>Reads the entry's tensors; the caller owns them.</summary>
    public static Dictionary<string, Tensor> Read(BeitZipReader zip, string entry)
    {
        // Read whole: the zip entry stream does not seek, and safetensors needs random access.
        byte[] bytes = zip.Entry(entry)
            ?? throw new InvalidDataException($"The model zip has no '{entry}' entry; it was not written by this library.");
        using var buffer = new MemoryStream(bytes);
        return SafetensorsFile.Read(buffer, "the model zip's BEiT weights", out _);
    }
}
