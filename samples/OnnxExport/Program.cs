// ONNX export (docs/onnx-and-deployment.md): a BEiT classifier trained here is exported to one ONNX file and scored by ML.NET's
// ApplyOnnxModel, without TorchSharp in the scoring pipeline; the two agree on every predicted class.
using BeitSamples;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Data;

string output = SampleData.OutputFolder("onnx-export");
var ml = new MLContext(seed: 1);
var train = ml.Data.LoadFromEnumerable(SampleData.Load("train", SampleData.Small ? 600 : 1800));
using var classifier = ml.MulticlassClassification.Trainers.BeitFinetune(new BeitFinetuneOptions
{
    Model = BeitModelSource.FromConfig(new BeitConfig
    {
        ImageSize = 28, PatchSize = 7, HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 128,
        UseRelativePositionBias = true, LayerNormEps = 1e-6, LayerScaleInitValue = 0,
    }),
    ImageColumnName = "Image", Epochs = SampleData.Small ? 3 : 10, BatchSize = 16, WarmupEpochs = 1,
    LayerDecay = 1, DropPath = 0, HeadInitScale = 1, Augment = false, Device = "cpu", Seed = 7,
}).Fit(ml.Transforms.Conversion.MapValueToKey("Label").Fit(train).Transform(train));

// Export: the trained weights as a Hugging Face checkpoint, then one ONNX file (inputs pixel_values, outputs logits
// and probabilities).
string checkpointFolder = Path.Combine(output, "checkpoint"), onnxPath = Path.Combine(output, "classifier.onnx");
classifier.SaveCheckpoint(checkpointFolder);
using (var checkpoint = BeitCheckpoint.Load(checkpointFolder))
    BeitOnnxExporter.Export(checkpoint, onnxPath);
Console.WriteLine($"Exported {onnxPath} ({new FileInfo(onnxPath).Length / 1024} KiB)");

// Scoring with ApplyOnnxModel: ML.NET's own image transforms make pixel_values. The images are already 28x28 (the
// model's size), and ExtractPixels computes (byte - offset) * scale = (byte - 127.5) / 127.5, the default BEiT
// normalisation ((byte / 255 - 0.5) / 0.5).
var testRows = SampleData.Load("t10k", 100);
var paths = testRows.Select((row, i) =>
{
    string path = Path.Combine(output, $"test-{i:D3}.png");
    File.WriteAllBytes(path, row.Image);
    return new PathRow { Path = path };
}).ToList();
var onnxPipeline = ml.Transforms.LoadImages("ImageObject", imageFolder: null, inputColumnName: "Path")
    .Append(ml.Transforms.ResizeImages("ImageObject", 28, 28, "ImageObject"))     // gives the column its size; no-op here
    .Append(ml.Transforms.ExtractPixels("pixel_values", "ImageObject", interleavePixelColors: false, offsetImage: 127.5f, scaleImage: 1 / 127.5f))
    .Append(ml.Transforms.ApplyOnnxModel(["probabilities"], ["pixel_values"], onnxPath));
var pathData = ml.Data.LoadFromEnumerable(paths);
var onnxScores = ml.Data.CreateEnumerable<OnnxScore>(onnxPipeline.Fit(pathData).Transform(pathData), reuseRowObject: false).ToList();

// The same images through the TorchSharp classifier.
var torchScores = ml.Data.CreateEnumerable<TorchScore>(classifier.Transform(ml.Data.LoadFromEnumerable(testRows)), reuseRowObject: false).ToList();
int agree = 0;
float worst = 0;
for (int i = 0; i < testRows.Count; i++)
{
    if (ArgMax(onnxScores[i].probabilities) == ArgMax(torchScores[i].Score)) agree++;
    for (int c = 0; c < torchScores[i].Score.Length; c++) worst = Math.Max(worst, Math.Abs(onnxScores[i].probabilities[c] - torchScores[i].Score[c]));
}
Console.WriteLine($"ApplyOnnxModel and the TorchSharp classifier agree on {agree} of {testRows.Count} images; largest probability difference {worst:E1}");
SampleData.Check(agree == testRows.Count, "the same predicted class for every image");
SampleData.Check(worst < 1e-4, "the same probabilities within 1e-4");

static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());

sealed class PathRow
{
    public string Path { get; set; } = "";
}

sealed class OnnxScore
{
    [VectorType(10)] public float[] probabilities { get; set; } = [];
}

sealed class TorchScore
{
    public float[] Score { get; set; } = [];
}
