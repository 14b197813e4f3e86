using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Microsoft.ML.Beit.Native;

/// <summary>
/// What must happen before any code of this library reaches TorchSharp, so that no application has to call anything: the
/// OpenMP wait policy (read once, when LibTorch loads), then TorchSharp's native library made loadable where the system's
/// libstdc++ is older than the one it was built against (<see cref="BeitNativeLibraries.PrepareTorchSharp"/>).
/// </summary>
internal static class LibraryLoad
{
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "Both settings must precede LibTorch's load, which the first TorchSharp call of any code path triggers.")]
    internal static void Run()
    {
        OpenMpWaitPolicy.Apply();
        BeitNativeLibraries.TryPrepareTorchSharp();
    }
}
