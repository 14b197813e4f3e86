using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Tiny randomly initialised models for tests that need no reference data.</summary>
internal static class TinyModels
{
    public static BeitConfig Config(bool absolutePositions = false, bool sharedBias = false, int labels = 3)
    {
        var config = BeitConfig.Tiny;
        config.UseAbsolutePositionEmbeddings = absolutePositions;
        config.UseRelativePositionBias = !absolutePositions && !sharedBias;
        config.UseSharedRelativePositionBias = sharedBias;
        config.SetLabels(Enumerable.Range(0, labels).Select(i => $"class_{i}").ToList());
        return config;
    }

    /// <summary>A tiny segmentation config: 32x32 images, 8x8 patches, 3 blocks, UperNet and auxiliary heads.</summary>
    public static BeitConfig SegmentationConfig(int classes = 3)
    {
        var config = BeitConfig.Tiny;
        config.UseMaskToken = false;
        config.SetLabels(Enumerable.Range(0, classes).Select(i => $"class_{i}").ToList());
        return config;
    }

    /// <summary>Fills every parameter with seeded noise, so that a wrong key or a transposed tensor shows.</summary>
    public static T Randomize<T>(T model, int seed = 7) where T : nn.Module
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (_, parameter) in model.named_parameters())
            parameter.copy_(randn(parameter.shape, generator: generator) * 0.2);
        model.eval();
        return model;
    }

    public static Tensor Pixels(int batch = 2, int seed = 3) => randn([batch, 3, 32, 32], generator: new Generator((ulong)seed));

    public static string TempDirectory()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"beit-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        return directory;
    }
}
