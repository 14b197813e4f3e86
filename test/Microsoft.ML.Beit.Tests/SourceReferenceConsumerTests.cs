namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// An application that references the library's source project, outside this repository (so without its build steps),
/// runs a model without calling anything first: the library prepares TorchSharp's native library itself as it loads.
/// </summary>
[TestClass]
public sealed class SourceReferenceConsumerTests
{
    [TestMethod]
    public void AnAppReferencingTheSourceProjectRunsAModelWithoutPreparingAnything()
    {
        string root = CliReferenceTests.RepositoryRoot();
        string app = TinyModels.TempDirectory();
        Assert.IsFalse(app.StartsWith(root, StringComparison.Ordinal), "the app must sit outside the repository, beyond its Directory.Build files");
        try
        {
            string library = Path.Combine(root, "src", "Microsoft.ML.Beit", "Microsoft.ML.Beit.csproj");
            File.WriteAllText(Path.Combine(app, "consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                  <ItemGroup>
                    <ProjectReference Include="{library}" />
                    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using Microsoft.ML.Beit.Modeling;
                using var model = new BeitModel(BeitConfig.Tiny);
                using var pixels = TorchSharp.torch.zeros(1, 3, 32, 32);
                var output = model.forward(pixels);
                Console.WriteLine($"hidden state {string.Join("x", output.LastHiddenState.shape)}");
                """);
            var build = Processes.Run("dotnet", ["build", app, "-v", "q", "-nologo", "-nodeReuse:false"], TimeSpan.FromMinutes(8));
            Assert.AreEqual(0, build.ExitCode, build.Output + build.Error);
            string dll = Path.Combine(app, "bin", "Debug", "net10.0", "consumer.dll");
            var run = Processes.Run("dotnet", [dll], TimeSpan.FromMinutes(2));
            Console.WriteLine(run.Output + run.Error);
            Assert.AreEqual(0, run.ExitCode, run.Output + run.Error);
            StringAssert.Contains(run.Output, "hidden state 1x17x48");
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }
}
