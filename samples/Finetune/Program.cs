// Fine-tuning a BEiT image classifier as an ML.NET multiclass trainer (docs/fine-tuning.md),
// evaluating it, saving the model zip and predicting with the reloaded model. A small BEiT trained from scratch on
// the bundled Fashion-MNIST subset; with a real checkpoint, set Model to it and use the recipe in docs/fine-tuning.md.
using BeitSamples;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;

int trainCount = SampleData.Small ? 1000 : 1800, epochs = SampleData.Small ? 6 : 15;
var ml = new MLContext(seed: 1);
var train = ml.Data.LoadFromEnumerable(SampleData.Load("train", trainCount));
var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
// The validation set goes to the trainer directly, so it gets the label keys the pipeline's MapValueToKey will give
// the training data (fitted on the same rows, it maps the same way).
var validation = labels.Transform(ml.Data.LoadFromEnumerable(SampleData.Load("train", 200, skip: 1800)));
var test = ml.Data.LoadFromEnumerable(SampleData.Load("t10k", SampleData.Small ? 200 : 500));

var progress = new SampleData.ProgressLog();
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.BeitFinetune(new BeitFinetuneOptions
    {
        // 28x28 images in 7x7 patches, 64 wide, 3 blocks: trained from scratch, so no layer decay or stochastic depth.
        Model = BeitModelSource.FromConfig(new BeitConfig
        {
            ImageSize = 28, PatchSize = 7, HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 4, IntermediateSize = 128,
            UseRelativePositionBias = true, LayerNormEps = 1e-6, LayerScaleInitValue = 0,
        }),
        ImageColumnName = "Image",
        Epochs = epochs, BatchSize = 16, LearningRate = 1e-3, WarmupEpochs = 1, WeightDecay = 0.1,
        LayerDecay = 1.0, DropPath = 0, HeadInitScale = 1.0, Augment = false,
        ValidationSet = validation,        // evaluated every epoch; the best epoch's weights are kept
        Progress = progress,
        Device = "cpu", Seed = 7,
    }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(train);

var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"Test accuracy {metrics.MicroAccuracy:F3}, macro accuracy {metrics.MacroAccuracy:F3}, log-loss {metrics.LogLoss:F3}");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

string zip = Path.Combine(SampleData.OutputFolder("finetune"), "model.zip");
ml.Model.Save(model, train.Schema, zip);
var reloaded = new MLContext().Model.Load(zip, out _);
var engine = new MLContext().Model.CreatePredictionEngine<SampleData.ImageRow, Prediction>(reloaded);
var first = SampleData.Load("t10k", 1)[0];
var prediction = engine.Predict(first);
Console.WriteLine($"Reloaded {zip}: the first test image ({first.Label}) is predicted '{prediction.PredictedLabel}' with p = {prediction.Score.Max():F2}");

SampleData.Check(progress.Steps[^1].Loss < progress.Steps[0].Loss, $"the training loss fell ({progress.Steps[0].Loss:F3} -> {progress.Steps[^1].Loss:F3})");
SampleData.Check(metrics.MicroAccuracy > (SampleData.Small ? 0.5 : 0.65), "the classifier beats chance (0.1) by far");
SampleData.Check(Math.Abs(prediction.Score.Sum() - 1) < 1e-4, "the reloaded model's Score is a probability distribution");

sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}
