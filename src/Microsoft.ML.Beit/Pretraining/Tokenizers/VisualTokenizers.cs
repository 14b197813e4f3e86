using Microsoft.ML.Beit.Checkpoints;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>Opens any visual tokenizer file this library knows.</summary>
public static class VisualTokenizers
{
    /// <summary>
    /// Loads a tokenizer from a safetensors file: a dVAE trained by <see cref="DiscreteVaeTrainer"/> (recognised by its
    /// metadata) as a <see cref="DiscreteVaeTokenizer"/>, or a DALL-E encoder state dict (keys <c>blocks.input.w</c>, ...;
    /// the config is inferred from the shapes) as a <see cref="DalleTokenizer"/> for 112x112 images. The tokenizer starts
    /// on the CPU.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is not safetensors, or holds neither kind of tokenizer; the message says what it found.</exception>
    /// <exception cref="BeitCheckpointMismatchException">The weights do not fit the architecture they describe.</exception>
    public static IBeitVisualTokenizer Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        Dictionary<string, TorchSharp.torch.Tensor> weights;
        Dictionary<string, string> metadata;
        try
        {
            weights = SafetensorsFile.Read(path, out metadata);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(
                $"{e.Message} Tokenizers load from safetensors; convert OpenAI's encoder.pkl with the dall_e package, " +
                "torch's state_dict() and safetensors.torch.save_file first.", e);
        }
        try
        {
            if (DiscreteVaeTokenizer.IsTokenizer(metadata))
                return DiscreteVaeTokenizer.FromWeights(weights, metadata, path);
            if (weights.ContainsKey("blocks.input.w"))
                return DalleTokenizer.FromWeights(weights, path);
            throw new InvalidDataException(
                $"{path} is not a visual tokenizer: it is neither a dVAE saved by DiscreteVaeTokenizer.Save (metadata format '{DiscreteVaeTokenizer.FormatName}') " +
                $"nor a DALL-E encoder state dict (key 'blocks.input.w'). It holds {weights.Count} tensors" +
                (weights.Count == 0 ? "." : $", such as {string.Join(", ", weights.Keys.Take(3).Select(k => $"'{k}'"))}."));
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }
}
