using Microsoft.ML.Beit.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>Weights stored in an entry of an ML.NET model zip, in safetensors format.</summary>
internal static class ModelZipWeights
{
    /// <summary>Reads the entry's tensors; the caller owns them.</summary>
    public static Dictionary<string, Tensor> Read(ModelLoadContext ctx, string entry)
    {
        Dictionary<string, Tensor>? weights = null;
        if (!ctx.TryLoadBinaryStream(entry, reader =>
            {
                // The zip entry stream does not seek; safetensors needs random access.
                using var buffer = new MemoryStream();
                reader.BaseStream.CopyTo(buffer);
                buffer.Position = 0;
                weights = SafetensorsFile.Read(buffer, "the model zip's BEiT weights", out _);
            }) || weights is null)
            throw new InvalidDataException($"The model zip has no '{entry}' entry; it was not written by this library.");
        return weights;
    }
}
