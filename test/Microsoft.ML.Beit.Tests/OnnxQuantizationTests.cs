using Google.Protobuf;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static Microsoft.ML.Beit.Tests.OnnxRuntimeScoring;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Int8 ONNX export (<see cref="BeitOnnxQuantization.Int8Dynamic"/>): the linear layers hold int8 weights and run as
/// DynamicQuantizeLinear + MatMulInteger; features and class probabilities stay close to the float32 export, the weights
/// shrink about 4x, and a model zip on the int8 ONNX backend saves, reloads and scores.
/// </summary>
[TestClass]
public sealed class OnnxQuantizationTests
{
    /// <summary>The least cosine similarity asked of an int8 feature vector to its float32 one.</summary>
    const double MinCosine = 0.99;

    /// <summary>The largest difference asked of an int8 class probability from its float32 one.</summary>
    const double ProbabilityTolerance = 0.05;

    static ModelProto Export(nn.Module model, BeitOnnxQuantization quantization, bool featuresOnly = false) =>
        BeitOnnxExporter.Build(model, new BeitOnnxExportOptions { Quantization = quantization, FeaturesOnly = featuresOnly });

    [TestMethod]
    public void QuantizedLinearLayersAreInt8PerColumnWithZeroPointZero()
    {
        float[] wt = [0.5f, -2f, 0f, 0.2f, 0.5f, 0f];   // [in 2, out 3]
        var (q, scales) = BeitOnnxGraph.QuantizePerColumn(wt, 2, 3);
        CollectionAssert.AreEqual(new[] { 0.5f / 127, 2f / 127, 1f }, scales, "max |w| / 127 per output column; 1 for an all-zero column");
        CollectionAssert.AreEqual(new sbyte[] { 127, -127, 0, 51, 32, 0 }, q);

        using var network = TinyModels.Randomize(new BeitModel(TinyModels.Config()));
        var graph = Export(network, BeitOnnxQuantization.Int8Dynamic).Graph;
        var ops = graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        int linears = 3 * 6;   // query, key, value, attention output, intermediate, output per block
        Console.WriteLine($"int8 graph: {ops.GetValueOrDefault("MatMulInteger")} MatMulInteger, {ops.GetValueOrDefault("DynamicQuantizeLinear")} DynamicQuantizeLinear, " +
            $"{ops.GetValueOrDefault("MatMul")} float MatMul");
        Assert.AreEqual(linears, ops["MatMulInteger"]);
        Assert.AreEqual(3 * 4, ops["DynamicQuantizeLinear"], "one per block for query, key and value, one for each other layer");
        Assert.AreEqual(2 * 3, ops["MatMul"], "only attention's two activation-by-activation MatMuls per block stay float");
        Assert.IsFalse(graph.Initializer.Any(t => t.Name.EndsWith(".weight_t", StringComparison.Ordinal)), "no float copy of a linear weight is left");
        Assert.IsTrue(graph.Initializer.Where(t => t.Name.EndsWith(".weight_zero_point", StringComparison.Ordinal))
            .All(t => t.DataType == (int)TensorProto.Types.DataType.Int8 && t.RawData.All(b => b == 0)));
    }

    [TestMethod]
    public void Int8FeaturesStayWithinCosine099OfFloat32AndTheFileShrinks()
    {
        using var network = TinyModels.Randomize(new BeitModel(TinyModels.Config()));
        var float32 = Export(network, BeitOnnxQuantization.None, featuresOnly: true);
        var int8 = Export(network, BeitOnnxQuantization.Int8Dynamic, featuresOnly: true);
        Assert.AreEqual("Int8Dynamic", int8.MetadataProps.Single(p => p.Key == BeitOnnxExporter.QuantizationKey).Value);
        Assert.IsFalse(float32.MetadataProps.Any(p => p.Key == BeitOnnxExporter.QuantizationKey));

        using var pixels = TinyModels.Pixels(batch: 8, seed: 5);
        var expected = Features(float32, pixels);
        var actual = Features(int8, pixels);
        var cosines = expected.Zip(actual, Cosine).ToArray();
        Console.WriteLine($"int8 vs float32 features, 8 images: cosine min {cosines.Min():F5}, mean {cosines.Average():F5}");
        Assert.IsTrue(cosines.All(c => c >= MinCosine), $"cosine similarities {string.Join(", ", cosines.Select(c => c.ToString("F4")))} below {MinCosine}");

        // Unoptimized, ONNX Runtime runs the standard operators as written (no fusion into its DynamicQuantizeMatMul), as
        // another ONNX host would: the same features.
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL })
        using (var plain = new InferenceSession(int8.ToByteArray(), options))
        {
            var outputs = Run(plain, pixels);
            double diff = ReferenceData.MaxAbsDiff(outputs[BeitOnnxExporter.Features], tensor(actual.SelectMany(r => r).ToArray(), [8, actual[0].Length]));
            OnnxRuntimeScoring.Dispose(outputs);
            Console.WriteLine($"int8 features, standard operators unfused vs fused: max abs diff {diff:E2}");
            Assert.IsLessThanOrEqualTo(1e-4, diff);
        }

        // The linear weights take a quarter (plus a scale and zero point per column); the rest (conv, norms, biases) is unchanged.
        static long LinearBytes(ModelProto m) => m.Graph.Initializer.Where(t => t.Name.Contains(".weight_t", StringComparison.Ordinal)).Sum(t => (long)t.RawData.Length);
        long floatLinear = LinearBytes(float32), int8Linear = LinearBytes(int8);
        long floatFile = float32.CalculateSize(), int8File = int8.CalculateSize();
        Console.WriteLine($"linear weights {floatLinear} -> {int8Linear} bytes ({(double)floatLinear / int8Linear:F2}x); file {floatFile} -> {int8File} bytes");
        Assert.AreEqual(floatLinear / 4, int8Linear, "int8 linear weights are a quarter of the float32 ones");
        Assert.IsLessThan(floatFile, int8File, "the int8 file is smaller");
    }

    [TestMethod]
    public void Int8HeadsExportRunAndStayCloseToFloat32()
    {
        using var segmenter = TinyModels.Randomize(new BeitForSemanticSegmentation(TinyModels.SegmentationConfig()));
        using var mim = TinyModels.Randomize(new BeitForMaskedImageModeling(TinyModels.Config(sharedBias: true)));
        using var pixels = TinyModels.Pixels(batch: 2, seed: 17);
        foreach (var (name, model) in new (string, nn.Module)[] { ("segmentation", segmenter), ("masked image modeling", mim) })
        {
            var float32 = Export(model, BeitOnnxQuantization.None);
            var int8 = Export(model, BeitOnnxQuantization.Int8Dynamic);
            Assert.IsTrue(int8.Graph.Node.Any(n => n.OpType == "MatMulInteger"), $"{name}: the backbone is quantized");
            var expected = Outputs(float32, pixels, BeitOnnxExporter.Logits, 1).SelectMany(r => r).ToArray();
            var actual = Outputs(int8, pixels, BeitOnnxExporter.Logits, 1).SelectMany(r => r).ToArray();
            double cosine = Cosine(expected, actual);
            Console.WriteLine($"{name}: int8 vs float32 logits ({expected.Length} values), cosine {cosine:F5}");
            Assert.IsGreaterThanOrEqualTo(MinCosine, cosine, name);
        }
    }

    [TestMethod]
    public void OnnxRuntimeFusesEachInt8LayerIntoItsQuantizedMatMulKernels()
    {
        using var network = TinyModels.Randomize(new BeitModel(TinyModels.Config()));
        string directory = TinyModels.TempDirectory();
        try
        {
            string optimized = Path.Combine(directory, "optimized.onnx");
            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = optimized })
            using (new InferenceSession(Export(network, BeitOnnxQuantization.Int8Dynamic).ToByteArray(), options)) { }
            var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
            Console.WriteLine($"after ONNX Runtime's optimizer: {string.Join(", ", ops.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))}");
            // Query, key and value share their quantized input, so they fuse into MatMulIntegerToFloat; the other layers take in their own DynamicQuantizeLinear.
            Assert.AreEqual(3 * 3, ops.GetValueOrDefault("MatMulIntegerToFloat"));
            Assert.AreEqual(3 * 3, ops.GetValueOrDefault("DynamicQuantizeMatMul"));
            Assert.IsFalse(ops.ContainsKey("MatMulInteger") || ops.ContainsKey("Cast"), "nothing of the unfused pattern is left");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void Int8ClassifierPredictsTheFloat32LabelsAndProbabilities()
    {
        using var network = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config(labels: 4)), seed: 9);
        using var pixels = TinyModels.Pixels(batch: 16, seed: 13);
        var expected = Outputs(Export(network, BeitOnnxQuantization.None), pixels, BeitOnnxExporter.Probabilities, 4);
        var actual = Outputs(Export(network, BeitOnnxQuantization.Int8Dynamic), pixels, BeitOnnxExporter.Probabilities, 4);
        int same = expected.Zip(actual, (e, a) => ArgMax(e) == ArgMax(a)).Count(x => x);
        double maxDiff = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Max()).Max();
        Console.WriteLine($"int8 vs float32 classifier, 16 images: {same}/16 same labels, max probability difference {maxDiff:F4}");
        Assert.IsGreaterThanOrEqualTo(15, same, "int8 predicts the float32 label on at least 15 of 16 images");
        Assert.IsLessThanOrEqualTo(ProbabilityTolerance, maxDiff);
    }

    [TestMethod]
    public void Int8OnnxBackendZipSavesReloadsAndScores()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string modelDir = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            var paths = FeaturizerTests.WriteRandomImages(folder, count: 5, width: 48, height: 36);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new FeaturizerTests.ImagePath { Path = p }));
            ITransformer Fit(BeitBackend backend, BeitOnnxQuantization quantization) => ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromDirectory(modelDir), Pooling = BeitPooling.Mean, BatchSize = 2, Backend = backend, OnnxQuantization = quantization,
            }).Fit(data);
            float[][] Score(ITransformer model) => ml.Data.CreateEnumerable<FeaturizerTests.FeatureRow>(model.Transform(data), false).Select(r => r.Features).ToArray();

            using var float32 = (BeitFeaturizerTransformer)Fit(BeitBackend.Onnx, BeitOnnxQuantization.None);
            using var int8 = (BeitFeaturizerTransformer)Fit(BeitBackend.Onnx, BeitOnnxQuantization.Int8Dynamic);
            Assert.AreEqual(BeitOnnxQuantization.Int8Dynamic, BeitOnnxExporter.QuantizationOf(ModelProto.Parser.ParseFrom(int8.OnnxModelBytes)));
            var expected = Score(float32);
            var actual = Score(int8);
            double minCosine = expected.Zip(actual, Cosine).Min();
            Console.WriteLine($"featurizer zip, int8 vs float32 ONNX backend: min cosine {minCosine:F5}; ONNX model {float32.OnnxModelBytes!.Length} -> {int8.OnnxModelBytes!.Length} bytes");
            Assert.IsGreaterThanOrEqualTo(MinCosine, minCosine);

            string zip = Path.Combine(folder, "int8-featurizer.zip");
            ml.Model.Save(int8, data.Schema, zip);
            using var reloaded = (BeitFeaturizerTransformer)new MLContext(seed: 2).Model.Load(zip, out _);
            Assert.AreEqual(BeitBackend.Onnx, reloaded.Backend);
            Assert.AreEqual(BeitOnnxQuantization.Int8Dynamic, BeitOnnxExporter.QuantizationOf(ModelProto.Parser.ParseFrom(reloaded.OnnxModelBytes)), "the zip keeps the int8 graph");
            var again = Score(reloaded);
            double diff = actual.Zip(again, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
            Console.WriteLine($"reloaded vs before saving: max abs diff {diff:E2}");
            Assert.IsLessThanOrEqualTo(1e-6, diff);

            // The graph the ONNX backend scores with is already fixed: a float32 one is not quantized after the fact.
            var refused = Assert.Throws<NotSupportedException>(() =>
                BeitOnnxExporter.Build(float32, new BeitOnnxExportOptions { Quantization = BeitOnnxQuantization.Int8Dynamic }));
            Console.WriteLine($"Quantizing a float32 ONNX backend: {refused.Message}");
            var alsoRefused = Assert.Throws<NotSupportedException>(() => ml.Model.ToOnnxBackend(float32, quantization: BeitOnnxQuantization.Int8Dynamic));
            StringAssert.Contains(alsoRefused.Message, "float32");
            Assert.AreSame(int8, ml.Model.ToOnnxBackend(int8, quantization: BeitOnnxQuantization.Int8Dynamic), "an int8 transformer is kept as it is");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ToolExportsInt8WithQuantize()
    {
        using var model = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config()));
        string directory = TinyModels.TempDirectory();
        try
        {
            string checkpoint = Path.Combine(directory, "checkpoint");
            Checkpoints.BeitCheckpoint.Save(model, checkpoint);
            string float32 = Path.Combine(directory, "model.onnx"), int8 = Path.Combine(directory, "model-int8.onnx");
            OnnxDeploymentTests.ExportWithTool("--model", checkpoint, "--output", float32);
            string output = OnnxDeploymentTests.ExportWithTool("--model", checkpoint, "--output", int8, "--quantization", "int8-dynamic");
            StringAssert.Contains(output, "Quantization Int8Dynamic");
            long floatSize = new FileInfo(float32).Length, int8Size = new FileInfo(int8).Length;
            Console.WriteLine($"beit export-onnx: {floatSize} bytes float32, {int8Size} bytes with --quantization int8-dynamic");
            Assert.IsLessThan(floatSize, int8Size);

            using var pixels = TinyModels.Pixels(batch: 4, seed: 21);
            var expected = Outputs(ModelProto.Parser.ParseFrom(File.ReadAllBytes(float32)), pixels, BeitOnnxExporter.Probabilities, 3);
            var actual = Outputs(ModelProto.Parser.ParseFrom(File.ReadAllBytes(int8)), pixels, BeitOnnxExporter.Probabilities, 3);
            double maxDiff = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Max()).Max();
            Console.WriteLine($"probabilities, int8 file vs float32 file: max difference {maxDiff:F4}");
            Assert.IsLessThanOrEqualTo(ProbabilityTolerance, maxDiff);

            var (exitCode, _, error) = BeitToolTests.Beit(["export-onnx", "--model", checkpoint, "--output", int8, "--quantize", "int4"]);
            Console.WriteLine($"--quantize int4: exit {exitCode}: {error.Trim()}");
            Assert.AreEqual(2, exitCode, "an unknown --quantize value is a usage error");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    static float[][] Features(ModelProto model, Tensor pixels) => Outputs(model, pixels, BeitOnnxExporter.Features, TinyModels.Config().HiddenSize);

    static float[][] Outputs(ModelProto model, Tensor pixels, string name, int width)
    {
        using var session = Session(model);
        var outputs = Run(session, pixels);
        try
        {
            var flat = outputs[name].data<float>().ToArray();
            return Enumerable.Range(0, flat.Length / width).Select(i => flat[(i * width)..((i + 1) * width)]).ToArray();
        }
        finally
        {
            OnnxRuntimeScoring.Dispose(outputs);
        }
    }

    static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
