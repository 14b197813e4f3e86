using Microsoft.ML;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

// The one place that opens ML.NET's internals (see eng/MLNetInternals.targets): model-zip persistence needs
// ModelSaveContext/ModelLoadContext members, VersionInfo and LoadableClassAttribute, which ML.NET keeps internal.
// The runtime honours IgnoresAccessChecksTo for these assemblies. Nothing else in the library names those types: the
// transformers see a BeitZipFormat, a BeitZipReader and their typed settings (Scoring/BeitZipSettings.cs).
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

// ML.NET's model loader finds each transformer's loader by the signature stored in the zip.
[assembly: LoadableClass(typeof(Microsoft.ML.Beit.BeitImageClassificationTransformer), typeof(Microsoft.ML.Beit.MLNetInternals.ClassifierLoader), null,
    typeof(SignatureLoadModel), "BEiT image classifier", Microsoft.ML.Beit.BeitImageClassificationTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(Microsoft.ML.Beit.BeitFeaturizerTransformer), typeof(Microsoft.ML.Beit.MLNetInternals.FeaturizerLoader), null,
    typeof(SignatureLoadModel), "BEiT featurizer", Microsoft.ML.Beit.BeitFeaturizerTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(Microsoft.ML.Beit.BeitSemanticSegmentationTransformer), typeof(Microsoft.ML.Beit.MLNetInternals.SegmenterLoader), null,
    typeof(SignatureLoadModel), "BEiT semantic segmenter", Microsoft.ML.Beit.BeitSemanticSegmentationTransformer.LoaderSignature)]

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
    /// <summary>
    /// How one kind of BEiT transformer is stored in a model zip: ML.NET's version header (the signature it checks, the
    /// version written, the oldest version this code reads) and the loader signature ML.NET finds the loader by.
    /// </summary>
    internal sealed record BeitZipFormat(string ModelSignature, uint VersionWritten, uint VersionReadable, uint OldestReadable, string LoaderSignature);

    /// <summary>A model zip entry being loaded: its settings text and its binary entries.</summary>
    internal sealed class BeitZipReader
    {
        readonly ModelLoadContext _ctx;

        internal BeitZipReader(ModelLoadContext ctx, BeitZipFormat format)
        {
            ctx.CheckAtModel(MLNetInternals.Version(format));
            _ctx = ctx;
            Settings = ctx.Reader.ReadString();
        }

        /// <summary>The settings JSON the transformer wrote.</summary>
        public string Settings { get; }

        /// <summary>The bytes of the binary entry <paramref name="name"/>, or null when the zip has none.</summary>
        public byte[]? Entry(string name)
        {
            byte[]? bytes = null;
            if (!_ctx.TryLoadBinaryStream(name, reader =>
                {
                    using var buffer = new MemoryStream();
                    reader.BaseStream.CopyTo(buffer);
                    bytes = buffer.ToArray();
                }))
                return null;
            return bytes;
        }
    }

    /// <summary>
    /// The internal ML.NET members the library uses, each wrapped once: model-zip persistence, a catalog's environment and
    /// its GPU settings, schema-shape columns and score annotations, transformer-chain scopes. Channel messages need no internals (see
    /// <see cref="ChannelMessages"/>).
    /// </summary>
    internal static class MLNetInternals
    {
        /// <summary>A transformer chain with the steps replaced and the chain's scopes (training, scoring) kept.</summary>
        public static Data.TransformerChain<ITransformer> WithSteps(IEnumerable<ITransformer> chain, ITransformer[] steps)
        {
            if (chain is Data.ITransformerChainAccessor accessor && accessor.Scopes.Length == steps.Length)
                return new Data.TransformerChain<ITransformer>(steps, accessor.Scopes);
            return new Data.TransformerChain<ITransformer>(steps);
        }

        /// <summary>Writes a transformer: the version header, its settings JSON, and one binary entry.</summary>
        public static void Save(ModelSaveContext ctx, BeitZipFormat format, string settings, string entry, Action<Stream> write)
        {
            ctx.CheckAtModel();
            ctx.SetVersionInfo(Version(format));
            ctx.Writer.Write(settings);
            ctx.SaveBinaryStream(entry, writer => write(writer.BaseStream));
        }

        /// <summary>The environment of an ML.NET catalog (what the catalog's own extension methods build components with).</summary>
        public static IHostEnvironment Environment(TransformsCatalog catalog) => CatalogUtils.GetEnvironment(catalog);

        /// <inheritdoc cref="Environment(TransformsCatalog)"/>
        public static IHostEnvironment Environment(MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog) => CatalogUtils.GetEnvironment(catalog);

        /// <summary>
        /// <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/> as they reach a component: ML.NET hands
        /// components the context (or a host registered on it) as an <see cref="IHostEnvironment"/>, and keeps the interface
        /// that carries both internal. An environment that is not ML.NET's own carries neither: no GPU asked for.
        /// </summary>
        public static (int? GpuDeviceId, bool FallbackToCpu) GpuChoice(IHostEnvironment env) =>
            env is IHostEnvironmentInternal context ? (context.GpuDeviceId, context.FallbackToCpu) : (null, false);

        /// <summary>A column of an estimator's output schema shape (ML.NET keeps the constructor internal).</summary>
        public static SchemaShape.Column Column(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey = false, SchemaShape? annotations = null) =>
            new(name, kind, itemType, isKey, annotations);

        /// <summary>How ML.NET names a schema-shape column's type in messages ("Vector&lt;Single&gt;", "Key&lt;UInt32&gt;").</summary>
        public static string TypeName(SchemaShape.Column column) => column.GetTypeString();

        /// <summary>The annotation kind that holds a key column's values (its class names).</summary>
        public const string KeyValues = AnnotationUtils.Kinds.KeyValues;

        /// <summary>
        /// The annotations of a multiclass Score column, as ML.NET's multiclass trainers write them: slot names (the class
        /// names), score column kind MulticlassClassification and score value kind Score, so Evaluate finds the column.
        /// </summary>
        public static DataViewSchema.Annotations MulticlassScore(int classes, ValueGetter<VBuffer<ReadOnlyMemory<char>>> classNames)
        {
            var builder = new DataViewSchema.Annotations.Builder();
            builder.AddSlotNames(classes, classNames);
            builder.Add(AnnotationUtils.Kinds.ScoreColumnKind, TextDataViewType.Instance,
                (ref ReadOnlyMemory<char> value) => value = AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification.AsMemory());
            builder.Add(AnnotationUtils.Kinds.ScoreValueKind, TextDataViewType.Instance,
                (ref ReadOnlyMemory<char> value) => value = AnnotationUtils.Const.ScoreValueKind.Score.AsMemory());
            return builder.ToAnnotations();
        }

        /// <summary>The annotations of a key column whose values are <paramref name="classes"/> texts.</summary>
        public static DataViewSchema.Annotations TextKeyValues(int classes, ValueGetter<VBuffer<ReadOnlyMemory<char>>> classNames)
        {
            var builder = new DataViewSchema.Annotations.Builder();
            builder.AddKeyValues<ReadOnlyMemory<char>>(classes, TextDataViewType.Instance, classNames);
            return builder.ToAnnotations();
        }

        internal static VersionInfo Version(BeitZipFormat format) => new(
            modelSignature: format.ModelSignature,
            verWrittenCur: format.VersionWritten,
            verReadableCur: format.VersionReadable,
            verWeCanReadBack: format.OldestReadable,
            loaderSignature: format.LoaderSignature,
            loaderAssemblyName: typeof(MLNetInternals).Assembly.FullName);

        // Called by ML.NET's model loader (through the LoadableClass attributes above).
        internal static class ClassifierLoader
        {
            static BeitImageClassificationTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
                BeitImageClassificationTransformer.Load(env, new BeitZipReader(ctx, BeitImageClassificationTransformer.ZipFormat));
        }

        internal static class FeaturizerLoader
        {
            static BeitFeaturizerTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
                BeitFeaturizerTransformer.Load(env, new BeitZipReader(ctx, BeitFeaturizerTransformer.ZipFormat));
        }

        internal static class SegmenterLoader
        {
            static BeitSemanticSegmentationTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
                BeitSemanticSegmentationTransformer.Load(env, new BeitZipReader(ctx, BeitSemanticSegmentationTransformer.ZipFormat));
        }
    }

    /// <summary>
    /// <c>ch.Info(message)</c>, <c>ch.Warning(message)</c> and <c>ch.Trace(message)</c> for the library's code: ML.NET's own
    /// one-argument overloads are internal, and these, found first because they are in the library's namespace, send
    /// the message through the public <see cref="IChannel"/> members with the sensitivity ML.NET's overloads use.
    /// </summary>
    internal static class ChannelMessages
    {
        /// <summary>An information message.</summary>
        public static void Info(this IChannel channel, string message) => channel.Info(MessageSensitivity.Unknown, message);

        /// <summary>A warning.</summary>
        public static void Warning(this IChannel channel, string message) => channel.Warning(MessageSensitivity.Unknown, message);

        /// <summary>A trace message (shown at the most verbose level).</summary>
        public static void Trace(this IChannel channel, string message) => channel.Trace(MessageSensitivity.Unknown, message);
    }

    /// <summary>Reading an estimator's input schema shape through its public members.</summary>
    internal static class SchemaShapes
    {
        /// <summary>The column named <paramref name="name"/> (the first, as ML.NET's own lookup), if there is one.</summary>
        public static bool TryFind(this SchemaShape schema, string name, out SchemaShape.Column column)
        {
            column = schema.FirstOrDefault(c => c.Name == name);
            return column.IsValid;
        }
    }
}
