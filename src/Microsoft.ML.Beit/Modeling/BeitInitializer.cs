using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Fresh weights for a model trained from scratch, as Hugging Face's BEiT initialises them: linear and
/// convolution weights and the CLS, mask and position embeddings from a normal distribution truncated at
/// two standard deviations (std <c>initializer_range</c>), biases and relative position tables zero,
/// LayerNorms identity, layer scale at <c>layer_scale_init_value</c>.
/// </summary>
public static class BeitInitializer
{
    /// <summary>Re-initialises every parameter of <paramref name="model"/> (any BEiT module) in place.</summary>
    public static void Initialize(nn.Module model, BeitConfig config, Generator? generator = null)
    {
        using var noGrad = no_grad();
        double std = config.InitializerRange;
        void Normal(Tensor t) => nn.init.trunc_normal_(t, 0, std, -2 * std, 2 * std, generator);

        foreach (var (_, module) in model.named_modules())
        {
            switch (module)
            {
                case Linear linear:
                    Normal(linear.weight!);
                    linear.bias?.zero_();
                    break;
                case Conv2d conv:
                    Normal(conv.weight!);
                    conv.bias?.zero_();
                    break;
                case LayerNorm norm:
                    norm.weight!.fill_(1);
                    norm.bias!.zero_();
                    break;
                case BeitEmbeddings embeddings:
                    Normal(embeddings.cls_token);
                    if (embeddings.mask_token is not null) Normal(embeddings.mask_token);
                    if (embeddings.position_embeddings is not null) Normal(embeddings.position_embeddings);
                    break;
                case BeitRelativePositionBias bias:
                    bias.relative_position_bias_table.zero_();
                    break;
                case BeitLayer layer when layer.lambda_1 is not null:
                    layer.lambda_1.fill_(config.LayerScaleInitValue);
                    layer.lambda_2!.fill_(config.LayerScaleInitValue);
                    break;
            }
        }
    }
}
