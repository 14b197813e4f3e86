using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>The MLP activations a Hugging Face config may name in <c>hidden_act</c>.</summary>
internal static class BeitActivation
{
    static readonly string[] Known = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "silu", "swish"];

    public static void Validate(string name, string source)
    {
        if (!Known.Contains(name))
            throw new InvalidDataException($"{source}: hidden_act '{name}' is not supported; expected one of {string.Join(", ", Known)}.");
    }

    /// <summary>The activation function for a <c>hidden_act</c> name.</summary>
    public static Func<Tensor, Tensor> Get(string name) => name switch
    {
        "gelu" => x => nn.functional.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => TanhGelu,
        "quick_gelu" => x => x * torch.sigmoid(ScalarOps.Mul(x, 1.702)),
        "relu" => x => nn.functional.relu(x),
        "silu" or "swish" => x => nn.functional.silu(x),
        _ => throw new InvalidDataException($"hidden_act '{name}' is not supported; expected one of {string.Join(", ", Known)}."),
    };

    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the approximation GPT-2 era checkpoints use.
    static Tensor TanhGelu(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var three = 3.ToScalar();
        var inner = ScalarOps.Mul(ScalarOps.Add(x, ScalarOps.Mul(x.pow(three), 0.044715)), Math.Sqrt(2.0 / Math.PI));
        using var one = 1.ToScalar();
        return ScalarOps.Mul(x * inner.tanh().add(one), 0.5).MoveToOuterDisposeScope();
    }
}
