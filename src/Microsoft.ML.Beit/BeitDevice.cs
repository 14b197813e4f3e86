using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit;

/// <summary>
/// The one place that turns a user's device choice into a TorchSharp device:
/// <c>auto</c> (CUDA when available, else CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. With <c>auto</c>, an MLContext whose
/// <see cref="MLContext.GpuDeviceId"/> is set decides, as ML.NET's own TorchSharp trainers do.
/// </summary>
public static class BeitDevice
{
    /// <summary>The device names <see cref="Resolve"/> accepts, for help texts.</summary>
    public const string Choices = "auto, cpu, cuda, cuda:N";

    /// <summary>
    /// The device name to use on this machine for one saved with a model: a CUDA device when it is there, else
    /// <c>cpu</c>, so that a model trained on a GPU scores on a CPU-only machine.
    /// </summary>
    public static string Available(string savedDevice)
    {
        string spec = string.IsNullOrWhiteSpace(savedDevice) ? "auto" : savedDevice.Trim().ToLowerInvariant();
        if (!spec.StartsWith("cuda", StringComparison.Ordinal)) return spec;
        try
        {
            Resolve(spec);
            return spec;
        }
        catch (ArgumentException)
        {
            return "cpu";
        }
    }

    /// <summary>
    /// The device a trainer or featurizer built by <paramref name="env"/> runs on: <paramref name="device"/> itself unless it
    /// is <c>auto</c>. For <c>auto</c> the MLContext decides as in ML.NET's TorchSharp trainers: with
    /// <see cref="MLContext.GpuDeviceId"/> N set, <c>cuda:N</c>; when that device is not there, an error, or with
    /// <see cref="MLContext.FallbackToCpu"/> a warning in the MLContext's log and <c>cpu</c>. Without a GPU id it stays
    /// <c>auto</c> (CUDA when available, else CPU).
    /// </summary>
    /// <exception cref="InvalidOperationException">The MLContext asks for a CUDA device that is not there and does not allow falling back to the CPU.</exception>
    internal static string ForContext(string? device, IHostEnvironment env)
    {
        string spec = string.IsNullOrWhiteSpace(device) ? "auto" : device.Trim().ToLowerInvariant();
        if (spec != "auto") return device!;
        var (gpu, fallbackToCpu) = MLNetInternals.GpuChoice(env);
        if (gpu is not int index) return "auto";
        if (index < 0)
            throw new InvalidOperationException($"MLContext.GpuDeviceId is {index}; set it to a CUDA device index (0 for the first GPU), or to null for the default device.");
        string? missing = !cuda.is_available()
            ? "TorchSharp found no CUDA device (the application has the CPU build of LibTorch, or no NVIDIA GPU and driver)"
            : index >= cuda.device_count() ? $"this machine has {cuda.device_count()} CUDA device(s)" : null;
        if (missing is null) return $"cuda:{index}";
        if (!fallbackToCpu)
            throw new InvalidOperationException(
                $"MLContext.GpuDeviceId is {index}, but {missing}. Set MLContext.FallbackToCpu = true to run on the CPU instead, " +
                "set the options' Device to 'cpu', or build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU and driver.");
        using var channel = env.Start(nameof(BeitDevice));
        channel.Warning($"MLContext.GpuDeviceId is {index}, but {missing}; MLContext.FallbackToCpu is set, so this runs on the CPU.");
        return "cpu";
    }

    /// <summary>
    /// Resolves a device name. <c>null</c> or empty means <c>auto</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Choices"/>, or names a CUDA device that is not there.</exception>
    public static Device Resolve(string? name)
    {
        string spec = string.IsNullOrWhiteSpace(name) ? "auto" : name.Trim().ToLowerInvariant();
        if (spec == "auto")
            return cuda.is_available() ? CUDA : CPU;
        if (spec == "cpu")
            return CPU;
        if (spec == "cuda" || spec.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (spec.Length > 4 && !int.TryParse(spec.AsSpan(5), out index) || index < 0)
                throw new ArgumentException($"Device '{name}' is not valid: expected {Choices}.", nameof(name));
            if (!cuda.is_available())
                throw new ArgumentException(
                    $"Device '{name}' asks for CUDA, but TorchSharp found no CUDA device. Build with -p:TorchBackend=cuda " +
                    "on a machine with an NVIDIA GPU and driver, or use 'cpu'.", nameof(name));
            int count = cuda.device_count();
            if (index >= count)
                throw new ArgumentException($"Device '{name}' does not exist: this machine has {count} CUDA device(s).", nameof(name));
            return new Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"Device '{name}' is not valid: expected {Choices}.", nameof(name));
    }
}
