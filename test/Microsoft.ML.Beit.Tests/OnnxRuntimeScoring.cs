using Google.Protobuf;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Scores exported files with ONNX Runtime and compares outputs, for the ONNX tests.</summary>
internal static class OnnxRuntimeScoring
{
    /// <summary>The parity tolerance of ../shared/reference: max abs diff 1e-4.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>An in-memory session with full graph optimization (ORT_ENABLE_ALL), as deployments run.</summary>
    public static InferenceSession Session(ModelProto model)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        return new InferenceSession(model.ToByteArray(), options);
    }

    /// <summary>Runs the session on [B, C, H, W] pixels; every output as a CPU tensor by name.</summary>
    public static Dictionary<string, Tensor> Run(InferenceSession session, Tensor pixels, Tensor? boolMaskedPos = null)
    {
        using var input = Float32(pixels);
        using var mask = boolMaskedPos is null ? null : Float32(boolMaskedPos);
        using var runOptions = new RunOptions();
        var names = session.OutputNames.ToArray();
        string[] inputNames = mask is null ? [BeitOnnxExporter.PixelValues] : [BeitOnnxExporter.PixelValues, BeitOnnxExporter.BoolMaskedPos];
        OrtValue[] inputs = mask is null ? [input] : [input, mask];
        using var results = session.Run(runOptions, inputNames, inputs, names);
        var outputs = new Dictionary<string, Tensor>();
        int i = 0;
        foreach (var result in results)
        {
            var shape = result.GetTensorTypeAndShape().Shape;
            outputs[names[i++]] = tensor(result.GetTensorDataAsSpan<float>().ToArray(), shape);
        }
        return outputs;
    }

    static OrtValue Float32(Tensor t) =>
        OrtValue.CreateTensorValueFromMemory(t.to(ScalarType.Float32).contiguous().data<float>().ToArray(), t.shape);

    /// <summary>Prints and asserts the max abs diff of one output against its expected value (within <see cref="Tolerance"/>).</summary>
    public static void Compare(string what, string name, Tensor actual, Tensor expected)
    {
        double diff = ReferenceData.MaxAbsDiff(actual, expected);
        Console.WriteLine($"{what}: {name} [{string.Join(",", expected.shape)}] max abs diff {diff:E2}");
        Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{what}: {name} differs by {diff:E3}");
    }

    /// <summary>Disposes every tensor of a name-to-tensor map.</summary>
    public static void Dispose(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }
}
