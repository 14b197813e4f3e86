using System.Text.RegularExpressions;
using Microsoft.ML.Beit.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The shape of a DALL-E dVAE encoder (<c>dall_e/encoder.py</c> <c>Encoder</c>): a 7x7 input convolution to
/// <see cref="HiddenChannels"/>, <see cref="GroupCount"/> groups of <see cref="BlocksPerGroup"/> residual blocks whose
/// widths double from group to group, a 2x max pool after every group but the last, and a 1x1 convolution to
/// <see cref="VocabularySize"/> logits. The defaults are OpenAI's published <c>encoder.pkl</c> (the tokenizer of BEiT).
/// </summary>
/// <param name="HiddenChannels">DALL-E <c>n_hid</c>: width of the first group; group g is HiddenChannels * 2^(g-1) wide. Default 256.</param>
/// <param name="BlocksPerGroup">DALL-E <c>n_blk_per_group</c>. Default 2.</param>
/// <param name="InputChannels">DALL-E <c>input_channels</c>. Default 3.</param>
/// <param name="VocabularySize">DALL-E <c>vocab_size</c>: number of visual tokens. Default 8192.</param>
/// <param name="GroupCount">DALL-E's fixed <c>group_count</c> (4); other values give a downsampling of 2^(GroupCount-1). Default 4.</param>
public sealed partial record DalleEncoderConfig(int HiddenChannels = 256, int BlocksPerGroup = 2, int InputChannels = 3, int VocabularySize = 8192, int GroupCount = 4)
{
    /// <summary>How many pixels per side one token covers: 2^(GroupCount - 1) (8 for DALL-E).</summary>
    public int Downsampling => 1 << (GroupCount - 1);

    /// <summary>DALL-E's residual scale 1 / n_layers^2, with n_layers = GroupCount * BlocksPerGroup.</summary>
    public double PostGain => 1.0 / ((double)GroupCount * BlocksPerGroup * GroupCount * BlocksPerGroup);

    /// <summary>Channels of group <paramref name="group"/> (1-based): HiddenChannels * 2^(group-1).</summary>
    public int GroupWidth(int group) => HiddenChannels << (group - 1);

    /// <summary>Checks that the numbers describe a buildable encoder.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it and <paramref name="source"/>.</exception>
    public void Validate(string source = "DALL-E encoder config")
    {
        void Require(bool ok, string name, int value, string rule)
        {
            if (!ok) throw new ArgumentException($"{source}: {name} is {value}; it {rule}.");
        }
        Require(HiddenChannels >= 4 && HiddenChannels % 4 == 0, "n_hid (HiddenChannels)", HiddenChannels,
            "must be a positive multiple of 4 (each block's bottleneck is a quarter of its width)");
        Require(BlocksPerGroup >= 1, "n_blk_per_group (BlocksPerGroup)", BlocksPerGroup, "must be at least 1");
        Require(InputChannels >= 1, "input_channels (InputChannels)", InputChannels, "must be at least 1");
        Require(VocabularySize >= 2, "vocab_size (VocabularySize)", VocabularySize, "must be at least 2");
        Require(GroupCount is >= 1 and <= 8, "group_count (GroupCount)", GroupCount, "must be between 1 and 8");
        Require((long)HiddenChannels << (GroupCount - 1) <= 1 << 16, "n_hid (HiddenChannels)", HiddenChannels,
            $"times 2^{GroupCount - 1} must stay within 65536 channels");
    }

    /// <summary>Infers the config from the tensor shapes of a DALL-E encoder safetensors file, without reading its data.</summary>
    /// <exception cref="InvalidDataException">The file is not a DALL-E encoder; the message says which key is missing or inconsistent.</exception>
    public static DalleEncoderConfig Infer(string safetensorsPath) =>
        Infer(SafetensorsFile.ReadLayout(safetensorsPath).ToDictionary(t => t.Name, t => t.Shape), safetensorsPath);

    /// <summary>Infers the config from DALL-E encoder weights (keys <c>blocks.input.w</c>, ..., <c>blocks.output.conv.b</c>).</summary>
    /// <param name="weights">The encoder's state dict.</param>
    /// <param name="source">What to call the weights in errors (a file name).</param>
    /// <exception cref="InvalidDataException">The weights are not a DALL-E encoder; the message says which key is missing or inconsistent.</exception>
    public static DalleEncoderConfig Infer(IReadOnlyDictionary<string, Tensor> weights, string source) =>
        Infer(weights.ToDictionary(p => p.Key, p => p.Value.shape), source);

    /// <summary>Infers the config from tensor names and shapes.</summary>
    public static DalleEncoderConfig Infer(IReadOnlyDictionary<string, long[]> shapes, string source)
    {
        long[] Shape(string key, int rank)
        {
            if (!shapes.TryGetValue(key, out var shape))
                throw new InvalidDataException(
                    $"{source} is not a DALL-E dVAE encoder: it has no '{key}' tensor (it has {shapes.Count} tensors, such as {Sample(shapes.Keys)}).");
            if (shape.Length != rank)
                throw new InvalidDataException($"{source}: '{key}' has shape [{string.Join(", ", shape)}]; a DALL-E encoder's is {rank}-dimensional.");
            return shape;
        }
        var input = Shape("blocks.input.w", 4);
        var output = Shape("blocks.output.conv.w", 4);

        var blocks = new SortedDictionary<int, SortedSet<int>>();
        foreach (var key in shapes.Keys)
        {
            var match = BlockKey().Match(key);
            if (!match.Success) continue;
            int group = int.Parse(match.Groups[1].Value), block = int.Parse(match.Groups[2].Value);
            if (!blocks.TryGetValue(group, out var set)) blocks[group] = set = [];
            set.Add(block);
        }
        if (blocks.Count == 0)
            throw new InvalidDataException($"{source} is not a DALL-E dVAE encoder: it has no 'blocks.group_<g>.block_<b>.*' tensors.");
        int groupCount = blocks.Count;
        for (int g = 1; g <= groupCount; g++)
        {
            if (!blocks.TryGetValue(g, out var set))
                throw new InvalidDataException($"{source}: the encoder has groups {string.Join(", ", blocks.Keys)} but no group_{g}; groups must be numbered 1..n.");
            if (set.Count != blocks[1].Count || set.Max != set.Count)
                throw new InvalidDataException(
                    $"{source}: group_{g} has blocks {string.Join(", ", set)} but group_1 has blocks 1..{blocks[1].Count}; every group must have the same blocks.");
        }

        var config = new DalleEncoderConfig((int)input[0], blocks[1].Count, (int)input[1], (int)output[0], groupCount);
        config.Validate(source);
        if (output[1] != config.GroupWidth(groupCount))
            throw new InvalidDataException(
                $"{source}: 'blocks.output.conv.w' reads {output[1]} channels, but n_hid {config.HiddenChannels} and {groupCount} groups give {config.GroupWidth(groupCount)}.");
        return config;
    }

    static string Sample(IEnumerable<string> keys) => string.Join(", ", keys.Take(5).Select(k => $"'{k}'"));

    [GeneratedRegex(@"^blocks\.group_(\d+)\.block_(\d+)\.")]
    private static partial Regex BlockKey();
}
