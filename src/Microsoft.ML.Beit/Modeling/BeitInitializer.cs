using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// Fresh weights for a model trained from scratch, as the original unilm BEiT initialises them:
/// linear weights and the CLS, mask and position embeddings from a normal distribution with std
/// <c>initializer_range</c> truncated at one standard deviation, linear biases zero, LayerNorms identity,
/// relative position tables zero, layer scale at <c>layer_scale_init_value</c>, and each block's output
/// projections (attention output, second MLP layer) divided by sqrt(2 * block number) to keep the residual
/// stream's variance from growing with depth. The patch convolution keeps LibTorch's default initialisation,
/// as in unilm: the values its constructor drew from LibTorch's global generator. For a model that the seed
/// alone determines, call <c>torch.manual_seed</c> before constructing it, as the trainers do.
/// </summary>
public static class BeitInitializer
{
    /// <summary>
    /// Re-initialises the parameters of <paramref name="model"/> (any BEiT module) in place, drawing from
    /// <paramref name="generator"/> (LibTorch's global generator when null); the patch convolution is left as
    /// constructed (see the class remarks).
    /// </summary>
    public static void Initialize(nn.Module model, BeitConfig config, Generator? generator = null)
    {
        using var noGrad = no_grad();
        double std = config.InitializerRange;
        void Normal(Tensor t) => TruncatedNormal(t, std, -std, std, generator);

        foreach (var (_, module) in model.named_modules())
        {
            switch (module)
            {
                case Linear linear:
                    Normal(linear.weight!);
                    linear.bias?.zero_();
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
            }
        }
        foreach (var (_, module) in model.named_modules())
            if (module is BeitEncoder encoder)
                for (int i = 0; i < encoder.layer.Count; i++)
                {
                    var block = encoder.layer[i];
                    double rescale = Math.Sqrt(2.0 * (i + 1));
                    block.attention.output.dense.weight!.div_(rescale);
                    block.output.dense.weight!.div_(rescale);
                    block.lambda_1?.fill_(config.LayerScaleInitValue);
                    block.lambda_2?.fill_(config.LayerScaleInitValue);
                }
    }

    /// <summary>
    /// Fills <paramref name="tensor"/> from N(0, std^2) truncated to [a, b] by inverse-CDF sampling, as PyTorch's
    /// <c>trunc_normal_</c> does. (TorchSharp 0.107's <c>nn.init.trunc_normal_</c> fills a constant instead.)
    /// </summary>
    public static void TruncatedNormal(Tensor tensor, double std, double a, double b, Generator? generator = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        double Cdf(double x)
        {
            using var value = torch.tensor(x / std / Math.Sqrt(2.0), ScalarType.Float64);
            return (1 + value.erf().item<double>()) / 2;
        }
        double low = Cdf(a), high = Cdf(b);
        tensor.uniform_(2 * low - 1, 2 * high - 1, generator);
        tensor.erfinv_().mul_(std * Math.Sqrt(2.0)).clamp_(a, b);
    }
}
