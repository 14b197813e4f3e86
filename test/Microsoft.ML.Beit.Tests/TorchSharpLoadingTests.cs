using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>TorchSharp's natives load on this machine (with the libstdc++ compatibility step where needed).</summary>
[TestClass]
public sealed class TorchSharpLoadingTests
{
    [TestMethod]
    public void LibTorchLoadsAndReportsVersion2_10()
    {
        string version = TorchSharp.torch.__version__;
        Console.WriteLine($"LibTorch {version}, CUDA available: {cuda.is_available()}");
        StringAssert.StartsWith(version, "2.10");
        using var sum = ones(3, 4).sum();
        Assert.AreEqual(12f, sum.item<float>());
    }

    [TestMethod]
    public void DeviceNamesResolve()
    {
        Assert.AreEqual(DeviceType.CPU, BeitDevice.Resolve("cpu").type);
        Assert.AreEqual(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, BeitDevice.Resolve("auto").type);
        Assert.AreEqual(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, BeitDevice.Resolve(null).type);
        var error = Assert.ThrowsExactly<ArgumentException>(() => BeitDevice.Resolve("tpu"));
        StringAssert.Contains(error.Message, "auto, cpu, cuda, cuda:N");
        if (!cuda.is_available())
            StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => BeitDevice.Resolve("cuda:0")).Message, "no CUDA device");
    }
}
