using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit;

/// <summary>The BEiT entry points on ML.NET's catalogs.</summary>
public static class BeitCatalog
{
    /// <summary>
    /// Adds BEiT image features. Reads <paramref name="inputColumnName"/>: an image from <c>LoadImages</c>,
    /// encoded bytes from <c>LoadRawImageBytes</c>, or a file path. Writes <paramref name="outputColumnName"/>:
    /// a float vector (the hidden size, or patches x hidden size for <see cref="BeitPooling.Tokens"/>).
    /// See <see cref="BeitFeaturizerOptions"/> for pooling, layer, batch size and device.
    /// </summary>
    public static BeitFeaturizerEstimator BeitFeaturize(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        BeitFeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new BeitFeaturizerEstimator(Data.CatalogUtils.GetEnvironment(catalog), outputColumnName, inputColumnName, options);
    }

    /// <summary>
    /// Adds BEiT image features from the model at <paramref name="modelPath"/> (a Hugging Face directory, or a
    /// .safetensors/.pth file with its config beside it) with mean pooling of the last layer.
    /// </summary>
    public static BeitFeaturizerEstimator BeitFeaturize(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        string modelPath) =>
        catalog.BeitFeaturize(outputColumnName, inputColumnName, new BeitFeaturizerOptions { Model = BeitModelSource.FromPath(modelPath) });
}
