using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;

namespace Beit.Trainer;

/// <summary>
/// <c>beit finetune</c>: trains an image classifier from a folder of class folders (or a path,label CSV) and saves
/// an ML.NET model zip whose input is the image path (and an ignored Label) and whose output is PredictedLabel.
/// </summary>
internal static class FinetuneCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Folder with one subfolder per class, or a CSV of path,label.", Required = true };
        var validation = new Option<string?>("--validation") { Description = "Validation data (same forms); evaluated every epoch, the best epoch is kept." };
        var model = new Option<string>("--model") { Description = "Starting checkpoint or model zip, a preset (tiny, base, large) or a config.json for random initialisation.", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => 10 };
        var output = new Option<string>("--output") { Description = "Model zip to write.", DefaultValueFactory = _ => "model.zip" };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 32 };
        var learningRate = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => 1e-3 };
        var layerDecay = new Option<double>("--layer-decay") { Description = "Layer-wise learning-rate decay (0.75 large, 0.65 base; 1 from scratch).", DefaultValueFactory = _ => 0.75 };
        var warmup = new Option<double>("--warmup-epochs") { Description = "Warmup epochs.", DefaultValueFactory = _ => 5 };
        var imageSize = new Option<int?>("--image-size") { Description = "Input size for a preset model." };
        var device = new Option<string>("--device") { Description = $"Device: {BeitDevice.Choices}.", DefaultValueFactory = _ => "auto" };
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };
        var checkpoints = new Option<string?>("--checkpoints") { Description = "Folder for training checkpoints (resume with --resume)." };
        var resume = new Option<string?>("--resume") { Description = "Checkpoint folder to resume an interrupted run from." };
        var generateCode = new Option<string?>("--generate-code") { Description = "Folder to write a C# console project that loads model.zip and predicts an image." };
        var command = new Command("finetune", "Fine-tune BEiT as an image classifier and save model.zip.")
        {
            data, validation, model, epochs, output, batchSize, learningRate, layerDecay, warmup, imageSize, device, seed, checkpoints, resume, generateCode,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            var ml = new MLContext(seed: parse.GetValue(seed));
            var train = LabeledImages.Load(parse.GetValue(data)!);
            var validationRows = parse.GetValue(validation) is { } v ? LabeledImages.Load(v) : null;
            string modelArg = parse.GetValue(model)!;
            var options = new BeitFinetuneOptions
            {
                Model = ModelArgument.Parse(modelArg),
                ImageColumnName = "Path",
                ScoreColumnName = "Score",
                PredictedLabelColumnName = "PredictedLabelKey",
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate),
                LayerDecay = parse.GetValue(layerDecay),
                WarmupEpochs = parse.GetValue(warmup),
                ImageSize = parse.GetValue(imageSize),
                Device = parse.GetValue(device)!,
                Seed = parse.GetValue(seed),
                CheckpointDirectory = parse.GetValue(checkpoints),
                ResumeFrom = parse.GetValue(resume),
            };
            Train(ml, train, validationRows, options, parse.GetValue(output)!);
            if (parse.GetValue(generateCode) is { } code)
                ConsumptionProject.Write(code, parse.GetValue(output)!);
        }));
        return command;
    }

    /// <summary>Trains, reports progress and metrics, and saves the model zip; shared with <c>beit quickstart</c>.</summary>
    public static ITransformer Train(MLContext ml, List<LabeledImage> train, List<LabeledImage>? validation, BeitFinetuneOptions options, string output,
        List<LabeledImage>? test = null)
    {
        var trainData = ml.Data.LoadFromEnumerable(train);
        var mapLabels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainData);
        var validationData = validation is null ? null : mapLabels.Transform(ml.Data.LoadFromEnumerable(validation));
        options.ValidationSet = validationData;
        options.Progress = new ConsoleProgress("accuracy");
        var classes = train.Select(r => r.Label).Distinct().ToList();
        Console.WriteLine($"Training on {train.Count} images of {classes.Count} classes{(validation is null ? "" : $", validating on {validation.Count}")}");

        var classifier = ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(mapLabels.Transform(trainData));
        var model = mapLabels.Append(classifier)
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel", "PredictedLabelKey").Fit(classifier.Transform(mapLabels.Transform(trainData))));
        Console.Error.WriteLine();
        // Metrics on the test images when given (held out from training and from choosing the best epoch), else on the validation data.
        if ((test ?? validation) is { } evaluation)
        {
            Console.WriteLine($"Metrics on {evaluation.Count} {(test is null ? "validation" : "held-out test")} images:");
            var metrics = ClassificationReport.Evaluate(ml, model.Transform(ml.Data.LoadFromEnumerable(evaluation)));
            ClassificationReport.Print(metrics, classifier.LabelNames);
        }
        ml.Model.Save(model, trainData.Schema, output);
        Console.WriteLine($"Model {output}");
        return model;
    }
}
