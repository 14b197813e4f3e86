using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.Beit.Native;

/// <summary>
/// Makes LibTorch's OpenMP threads sleep instead of spin while they wait. GNU OpenMP, which LibTorch ships on Linux, spins
/// a waiting thread for about 300,000 iterations by default; when anything else runs on the machine (another training,
/// a build, a second process), a thread spinning at a barrier holds the core the thread it waits for needs, and a tiny
/// model's training ran four times slower and its scoring six times slower than with the passive policy (2 cores, load 3).
/// On an idle machine the passive policy costs little: the parallel work of a BEiT step is large next to a wake-up.
/// The policy is read once, when LibTorch loads, so it is set as this assembly loads, before any of its code reaches
/// TorchSharp. A process that sets <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c> itself keeps its own setting.
/// </summary>
internal static class OpenMpWaitPolicy
{
    /// <summary>The environment variable OpenMP reads its wait policy from.</summary>
    public const string Variable = "OMP_WAIT_POLICY";

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "The setting must precede LibTorch's load, which the first TorchSharp call of any code path triggers.")]
    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux()) return;
        if (Environment.GetEnvironmentVariable(Variable) is not null || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null) return;
        try
        {
            // .NET keeps its own copy of the environment; LibTorch's OpenMP reads the C library's.
            SetEnvironment(Variable, "PASSIVE", overwrite: 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Without the C library's setenv the default policy stays: slower on a busy machine, never wrong.
        }
    }

    /// <summary>The value the C library's environment holds for <paramref name="name"/>, as LibTorch sees it.</summary>
    public static string? NativeValue(string name) => Marshal.PtrToStringUTF8(GetEnvironment(name));

    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi, BestFitMapping = false)]
    static extern int SetEnvironment(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv", CharSet = CharSet.Ansi, BestFitMapping = false)]
    static extern IntPtr GetEnvironment(string name);
}
