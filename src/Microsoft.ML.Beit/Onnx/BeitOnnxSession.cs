using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>
/// An exported BEiT graph loaded into ONNX Runtime (full graph optimization) for the <see cref="BeitBackend.Onnx"/> scoring
/// backend: float pixels in, named float outputs back. Nothing here touches LibTorch. ONNX Runtime's <c>Run</c> is safe to
/// call from several threads at once, so, unlike the TorchSharp engines, no lock is needed.
/// </summary>
internal sealed class BeitOnnxSession : IDisposable
{
    const string GpuPackageHint = "reference Microsoft.ML.OnnxRuntime.Gpu instead of Microsoft.ML.OnnxRuntime in the application, with CUDA and cuDNN installed";

    readonly InferenceSession _session;

    BeitOnnxSession(byte[] model, InferenceSession session, string device, int? threads)
    {
        ModelBytes = model;
        _session = session;
        DeviceName = device;
        Threads = threads;
    }

    /// <summary>The serialized ONNX model (saved into the model zip).</summary>
    public byte[] ModelBytes { get; }

    /// <summary>The device asked for: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string DeviceName { get; }

    /// <summary>ONNX Runtime intra-op threads, or null for its default.</summary>
    public int? Threads { get; }

    /// <summary>Whether the session runs on the CUDA execution provider.</summary>
    public bool OnCuda { get; private set; }

    /// <summary>
    /// Loads <paramref name="model"/> on <paramref name="device"/>: <c>cpu</c>; <c>cuda</c>/<c>cuda:N</c> (the CUDA execution
    /// provider, which the application gets from Microsoft.ML.OnnxRuntime.Gpu); <c>auto</c> (CUDA when that provider loads, else CPU).
    /// </summary>
    /// <exception cref="ArgumentException">The device is not valid, or CUDA was asked for and is not available.</exception>
    /// <exception cref="InvalidOperationException">The native ONNX Runtime is missing from the application.</exception>
    public static BeitOnnxSession Create(byte[] model, string? device, int? threads)
    {
        ArgumentNullException.ThrowIfNull(model);
        string spec = string.IsNullOrWhiteSpace(device) ? "auto" : device.Trim().ToLowerInvariant();
        int? cudaIndex = spec switch
        {
            "cpu" or "auto" => null,
            "cuda" => 0,
            _ when spec.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(spec.AsSpan(5), out int i) && i >= 0 => i,
            _ => throw new ArgumentException($"Device '{device}' is not valid: expected {BeitDevice.Choices}.", nameof(device)),
        };
        if (threads is < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "Threads must be at least 1.");
        try
        {
            var cuda = spec == "auto" ? TryCuda(model, 0, threads) : null;
            var session = cuda ?? Open(model, cudaIndex, threads);
            return new BeitOnnxSession(model, session, spec, threads) { OnCuda = cuda is not null || cudaIndex is not null };
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
        {
            throw new InvalidOperationException(
                "ONNX Runtime's native library could not be loaded, so a model with Backend = Onnx cannot score. Reference the " +
                $"Microsoft.ML.OnnxRuntime package (CPU) or Microsoft.ML.OnnxRuntime.Gpu (CUDA) in the application. ({e.Message})", e);
        }
    }

    /// <summary>Serializes an exported graph and loads it (see <see cref="Create"/>).</summary>
    /// <exception cref="NotSupportedException">The weights exceed what one serialized ONNX model holds (2 GB).</exception>
    public static BeitOnnxSession FromGraph(global::Onnx.ModelProto graph, string? device, int? threads)
    {
        long weightBytes = BeitOnnxExporter.WeightBytes(graph);
        if (weightBytes > BeitOnnxExporter.MaxInlineBytes)
            throw new NotSupportedException($"Backend = Onnx keeps the ONNX model in memory and in the model zip, which hold at most 2 GB, and this model's weights " +
                $"take {weightBytes / 1e9:F2} GB. Use Backend = TorchSharp, or export it with beit export-onnx (external data) and score the file with ONNX Runtime.");
        return Create(Google.Protobuf.MessageExtensions.ToByteArray(graph), device, threads);
    }

    /// <summary>The graph's output names.</summary>
    public IReadOnlyList<string> OutputNames => _session.OutputNames;

    /// <summary>
    /// Runs the graph on <paramref name="batch"/> images of [channels, height, width] float pixels (concatenated) and returns the
    /// requested outputs, flattened row-major, in the order asked.
    /// </summary>
    public float[][] Run(float[] pixels, int batch, int channels, int height, int width, params string[] outputs)
    {
        if (pixels.Length != (long)batch * channels * height * width)
            throw new ArgumentException($"{pixels.Length} pixel values do not make {batch} images of {channels}x{height}x{width}.", nameof(pixels));
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, channels, height, width]);
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, [BeitOnnxExporter.PixelValues], [input], outputs);
        return results.Select(r => r.GetTensorDataAsSpan<float>().ToArray()).ToArray();
    }

    static InferenceSession Open(byte[] model, int? cudaIndex, int? threads)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads is int n) options.IntraOpNumThreads = n;
        if (cudaIndex is int index)
        {
            try
            {
                options.AppendExecutionProvider_CUDA(index);
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                throw new ArgumentException($"Device 'cuda:{index}' needs ONNX Runtime's CUDA execution provider, which this application lacks: " +
                    $"{GpuPackageHint}, or use 'cpu'. ({e.Message})", e);
            }
        }
        return new InferenceSession(model, options);
    }

    static InferenceSession? TryCuda(byte[] model, int index, int? threads)
    {
        if (!OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider")) return null;
        try
        {
            return Open(model, index, threads);
        }
        catch (Exception e) when (e is ArgumentException or OnnxRuntimeException)
        {
            return null;   // the provider is in the package but no usable GPU or driver is there: CPU, as "auto" promises
        }
    }

    public void Dispose() => _session.Dispose();
}
