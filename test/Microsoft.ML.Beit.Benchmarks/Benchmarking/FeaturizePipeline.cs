using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Benchmarks;

/// <summary>
/// The BeitFeaturize pipeline as users build it: image paths in an <c>IDataView</c>, JPEG decoding, Pillow-exact resize
/// and crop, normalisation and the forward pass inside ML.NET. Times it, and watches memory while it streams many
/// rows or answers many PredictionEngine calls.
/// </summary>
internal sealed class FeaturizePipeline : IDisposable
{
    /// <summary>An input row: the image's path.</summary>
    public sealed class ImageRow
    {
        /// <summary>The path.</summary>
        public string Path { get; set; } = "";
    }

    /// <summary>An output row of a PredictionEngine.</summary>
    public sealed class FeatureRow
    {
        /// <summary>The pooled features.</summary>
        public float[] Features { get; set; } = [];
    }

    readonly MLContext _ml = new(seed: 1);
    readonly BeitFeaturizerTransformer _featurizer;

    /// <summary>Saves a randomly initialised model of <paramref name="config"/> under <paramref name="folder"/> and fits the featurizer on it.</summary>
    public FeaturizePipeline(BeitConfig config, int batch, string folder)
    {
        string model = Path.Combine(folder, "model");
        manual_seed(1);
        using (var backbone = new BeitModel(config)) BeitCheckpoint.Save(backbone, model);
        WeightBytes = Directory.EnumerateFiles(model, "*.safetensors").Sum(f => new FileInfo(f).Length);
        _featurizer = _ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
        {
            Model = BeitModelSource.FromPath(model),
            Preprocessor = BeitPreprocessorConfig.Pt22k(config.ImageSize),
            BatchSize = batch,
        }).Fit(_ml.Data.LoadFromEnumerable(new List<ImageRow>()));
    }

    /// <summary>The size of the model's weights on disk (float32).</summary>
    public long WeightBytes { get; }

    /// <summary>Images per second through the whole pipeline, every row's features read.</summary>
    public double ImagesPerSecond(IReadOnlyList<string> paths)
    {
        var clock = Stopwatch.StartNew();
        long rows = Stream(paths.Select(p => new ImageRow { Path = p }), 0, null);
        return rows / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Featurizes <paramref name="count"/> rows that cycle over <paramref name="paths"/> (every row is decoded and scored
    /// anew), reading memory after every <paramref name="every"/> rows.
    /// </summary>
    public MemoryRun StreamMemory(IReadOnlyList<string> paths, int count, int every)
    {
        var samples = new List<(long Done, MemorySample Sample)> { (0, MemorySample.Now()) };
        var clock = Stopwatch.StartNew();
        Stream(Enumerable.Range(0, count).Select(i => new ImageRow { Path = paths[i % paths.Count] }), every, (done, s) => samples.Add((done, s)));
        return new MemoryRun("featurize pipeline (IDataView cursor)", count, every, WeightBytes, clock.Elapsed.TotalSeconds, samples);
    }

    /// <summary><paramref name="calls"/> single-image PredictionEngine calls, reading memory after every <paramref name="every"/> calls.</summary>
    public MemoryRun PredictionEngineMemory(IReadOnlyList<string> paths, int calls, int every)
    {
        var samples = new List<(long Done, MemorySample Sample)> { (0, MemorySample.Now()) };
        var clock = Stopwatch.StartNew();
        using var engine = _ml.Model.CreatePredictionEngine<ImageRow, FeatureRow>(_featurizer);
        var input = new ImageRow();
        var output = new FeatureRow();
        for (int i = 1; i <= calls; i++)
        {
            input.Path = paths[i % paths.Count];
            engine.Predict(input, ref output);
            if (i % every == 0) samples.Add((i, MemorySample.Now()));
        }
        return new MemoryRun("PredictionEngine calls", calls, every, WeightBytes, clock.Elapsed.TotalSeconds, samples);
    }

    long Stream(IEnumerable<ImageRow> rows, int every, Action<long, MemorySample>? sample)
    {
        // A lazy enumerable: the data view reads it twice (pass-through and look-ahead cursors), never holding it whole.
        var data = _ml.Data.LoadFromEnumerable(rows);
        long count = 0;
        var scored = _featurizer.Transform(data);
        using var cursor = scored.GetRowCursor([scored.Schema["Features"]]);
        var getter = cursor.GetGetter<VBuffer<float>>(cursor.Schema["Features"]);
        VBuffer<float> features = default;
        while (cursor.MoveNext())
        {
            getter(ref features);
            count++;
            if (sample is not null && count % every == 0) sample(count, MemorySample.Now());
        }
        return count;
    }

    public void Dispose() => _featurizer.Dispose();
}
