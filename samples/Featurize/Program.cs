// BEiT features in an ML.NET pipeline (docs/featurization.md), then two things to do with them:
// a linear probe (an ML.NET trainer on the features) and nearest-neighbour search (cosine similarity).
// Pass a checkpoint folder (e.g. beit-base-patch16-224-pt22k) as the first argument for features worth having; without
// one, the sample writes a tiny randomly initialised BEiT so it runs offline in seconds (random features still carry
// enough of the image for a linear probe to beat chance by far).
using BeitSamples;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Trainers;
using TorchSharp;

int trainCount = SampleData.Small ? 300 : 2000, testCount = SampleData.Small ? 100 : 500;
var ml = new MLContext(seed: 1);
var train = ml.Data.LoadFromEnumerable(SampleData.Load("train", trainCount));
var test = ml.Data.LoadFromEnumerable(SampleData.Load("t10k", testCount));

string checkpoint = args.FirstOrDefault(a => !a.StartsWith("--")) ?? WriteRandomModel(SampleData.OutputFolder("featurize-model"));

var featurizer = ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions
{
    Model = BeitModelSource.FromDirectory(checkpoint),
    Pooling = BeitPooling.Mean,
    NormalizeL2 = true,        // unit vectors: a dot product is the cosine similarity
    BatchSize = 64,
    Device = "cpu",
}).Fit(train);
Console.WriteLine($"Features: {featurizer.GetOutputSchema(train.Schema)["Features"].Type}");

// 1. Linear probe: an ordinary ML.NET trainer on the BEiT features.
var probe = ml.Transforms.Conversion.MapValueToKey("Label")
    // One thread: SDCA's multithreaded updates are lock-free and vary from run to run.
    .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
    {
        LabelColumnName = "Label", FeatureColumnName = "Features", MaximumNumberOfIterations = 50, NumberOfThreads = 1,
    }))
    .Fit(featurizer.Transform(train));
var metrics = ml.MulticlassClassification.Evaluate(probe.Transform(featurizer.Transform(test)));
Console.WriteLine($"Linear probe accuracy on {testCount} test images: {metrics.MicroAccuracy:F3} (chance 0.1)");
SampleData.Check(metrics.MicroAccuracy > 0.3, "the linear probe beats chance (0.1) by far");

// 2. Nearest neighbours: the training image whose features are closest to each test image.
var trainFeatures = ml.Data.CreateEnumerable<Featurized>(featurizer.Transform(train), reuseRowObject: false).ToList();
var testFeatures = ml.Data.CreateEnumerable<Featurized>(featurizer.Transform(test), reuseRowObject: false).ToList();
int agree = 0;
foreach (var query in testFeatures)
{
    var nearest = trainFeatures.MaxBy(candidate => Dot(candidate.Features, query.Features))!;
    if (nearest.Label == query.Label) agree++;
}
double knn = (double)agree / testFeatures.Count;
Console.WriteLine($"1-nearest-neighbour accuracy: {knn:F3}");
SampleData.Check(knn > 0.3, "the nearest neighbour usually has the query's class");

// A BEiT for 28x28 images (7x7 patches, 64 wide, 2 blocks) with random weights, in the Hugging Face layout.
static string WriteRandomModel(string folder)
{
    var config = new BeitConfig
    {
        ImageSize = 28, PatchSize = 7, HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 128,
        UseMeanPooling = true, UseRelativePositionBias = true, LayerNormEps = 1e-6,
    };
    torch.manual_seed(1); // the patch convolution's constructor draws from the global generator
    using var model = new BeitModel(config);
    BeitInitializer.Initialize(model, config, new torch.Generator(1));
    BeitCheckpoint.Save(model, folder);
    return folder;
}

static float Dot(float[] a, float[] b)
{
    float sum = 0;
    for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
    return sum;
}

sealed class Featurized
{
    public string Label { get; set; } = "";
    public float[] Features { get; set; } = [];
}
