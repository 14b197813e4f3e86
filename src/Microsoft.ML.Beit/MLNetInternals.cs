// The one place that opens ML.NET's internals (see eng/MLNetInternals.targets): model-zip persistence
// needs ModelSaveContext/ModelLoadContext members, VersionInfo and LoadableClassAttribute, which
// ML.NET 5 keeps internal. The runtime honours IgnoresAccessChecksTo for these assemblies.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices
{
    /// <summary>Tells the runtime to skip access checks from this assembly into the named one.</summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
    {
        /// <summary>The assembly whose non-public members this assembly may use.</summary>
        public string AssemblyName { get; } = assemblyName;
    }
}

namespace Microsoft.ML.Beit
{
    /// <summary>The internal ML.NET members used outside model-zip persistence, each wrapped once.</summary>
    internal static class MLNetInternals
    {
        /// <summary>A transformer chain with the steps replaced and the chain's scopes (training, scoring) kept.</summary>
        public static Data.TransformerChain<ITransformer> WithSteps(IEnumerable<ITransformer> chain, ITransformer[] steps)
        {
            if (chain is Data.ITransformerChainAccessor accessor && accessor.Scopes.Length == steps.Length)
                return new Data.TransformerChain<ITransformer>(steps, accessor.Scopes);
            return new Data.TransformerChain<ITransformer>(steps);
        }
    }
}
