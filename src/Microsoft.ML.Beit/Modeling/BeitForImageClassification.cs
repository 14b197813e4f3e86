using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The backbone with its pooler and a linear classifier (Hugging Face <c>BeitForImageClassification</c>).</summary>
public sealed class BeitForImageClassification : nn.Module<Tensor, BeitClassifierOutput>
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>The backbone, with a pooler.</summary>
    public readonly BeitModel beit;
    /// <summary>Pooled features to class logits (unilm <c>head</c>).</summary>
    public readonly Linear classifier;
#pragma warning restore IDE1006

    /// <summary>Builds the classifier; the number of classes is the number of labels in <paramref name="config"/>.</summary>
    public BeitForImageClassification(BeitConfig config) : base(nameof(BeitForImageClassification))
    {
        if (config.NumLabels < 1)
            throw new ArgumentException("An image classifier needs labels: set id2label in the config (BeitConfig.SetLabels).", nameof(config));
        beit = new BeitModel(config, addPoolingLayer: true);
        classifier = nn.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public BeitConfig Config => beit.Config;

    /// <inheritdoc/>
    public override BeitClassifierOutput forward(Tensor pixelValues) => forward(pixelValues, false, false);

    /// <summary>Class logits for [B, C, H, W] pixels; the backbone's output comes along.</summary>
    public BeitClassifierOutput forward(Tensor pixelValues, bool outputHiddenStates, bool outputAttentions)
    {
        using var scope = NewDisposeScope();
        var backbone = beit.forward(pixelValues, null, outputHiddenStates, outputAttentions);
        var logits = classifier.forward(backbone.PoolerOutput!);
        logits.MoveToOuterDisposeScope();
        backbone.MoveToOuterDisposeScope();
        return new BeitClassifierOutput(logits, backbone);
    }
}

/// <summary>What the classifier returns.</summary>
/// <param name="Logits">[B, classes] unnormalised class scores.</param>
/// <param name="Backbone">The backbone's output (pooled features, hidden states on request).</param>
public sealed record BeitClassifierOutput(Tensor Logits, BeitModelOutput Backbone) : IDisposable
{
    /// <summary>Disposes every tensor of the output.</summary>
    public void Dispose()
    {
        Logits.Dispose();
        Backbone.Dispose();
    }
}
