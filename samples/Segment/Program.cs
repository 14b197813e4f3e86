// Semantic segmentation with BEiT + UperNet (docs/segmentation.md): a data set composed from the bundled
// Fashion-MNIST subset (items on a canvas, each pixel labelled with its item's class), a tiny BEiT trained on it,
// mIoU, and predicted masks written as PNGs beside the images.
using BeitSamples;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;

string output = SampleData.OutputFolder("segment");
var set = FashionMnistCanvases.Generate(new FashionMnistCanvasOptions
{
    SourceFolder = SampleData.FashionMnistFolder,
    OutputFolder = Path.Combine(output, "canvases"),
    CanvasSize = 32,
    TrainingCanvases = 240,
    ValidationCanvases = 40,
    Classes = [1, 8, 9],           // trousers, bags, ankle boots (and background)
    Seed = 3,
});
Console.WriteLine($"{set.TrainingCanvases} training and {set.ValidationCanvases} validation canvases; classes {string.Join(", ", set.ClassNames)}");

var ml = new MLContext(seed: 1);
IDataView Split(string split) => ml.Data.LoadFromEnumerable(
    SegmentationFolder.Read(set.Root, split).Select(s => new Row { Image = s.ImagePath, Label = s.LabelPath }).ToList());
var train = Split("training");
var validation = Split("validation");

var progress = new SampleData.ProgressLog();
using var segmenter = ml.SemanticSegmentation().Trainers.Beit(new BeitSegmentationOptions
{
    // samples/configs/tiny-seg.json: 32x32 images in 8x8 patches, 48 wide, 3 blocks, trained from scratch.
    Model = BeitModelSource.FromConfig(new BeitConfig
    {
        ImageSize = 32, PatchSize = 8, HiddenSize = 48, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 96,
        UseRelativePositionBias = true, LayerNormEps = 1e-6, LayerScaleInitValue = 0, AuxiliaryChannels = 24,
    }),
    ClassNames = set.ClassNames,
    Epochs = 10, BatchSize = 16, LearningRate = 2e-3, LayerDecay = 1,
    ValidationSet = validation, Progress = progress, Device = "cpu", Seed = 1,
}).Fit(train);

var metrics = ml.SemanticSegmentation().Evaluate(segmenter.Transform(validation));
Console.WriteLine(metrics);

// Masks for the first validation images: class ids scaled to gray levels, written beside a copy of each image.
var samples = SegmentationFolder.Read(set.Root, "validation").Take(4).ToList();
var masks = segmenter.PredictMasks(samples.Select(s => RgbImage.Load(s.ImagePath)).ToList());
for (int i = 0; i < samples.Count; i++)
{
    var image = RgbImage.Load(samples[i].ImagePath);
    byte[] gray = masks[i].Select(c => (byte)(c * 255 / (set.ClassNames.Count - 1))).ToArray();
    File.Copy(samples[i].ImagePath, Path.Combine(output, $"{i}_image.png"), overwrite: true);
    File.WriteAllBytes(Path.Combine(output, $"{i}_mask.png"), SampleData.Png(gray, image.Width, image.Height));
}
Console.WriteLine($"Images and predicted masks in {output}");

SampleData.Check(masks.All(m => m.Length == 32 * 32), "one class id per input pixel");
SampleData.Check(metrics.PixelAccuracy > 0.75, $"pixel accuracy {metrics.PixelAccuracy:F3} > 0.75");
SampleData.Check(metrics.MeanIoU > 0.3, $"mean IoU {metrics.MeanIoU:F3} > 0.3 (background alone would give ~0.2)");

sealed class Row
{
    public string Image { get; set; } = "";
    public string Label { get; set; } = "";
}
