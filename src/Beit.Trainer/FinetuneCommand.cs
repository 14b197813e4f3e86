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
        var output = new Option<string>("--output") { Description = "Model zip to write.", DefaultValueFactory = _ => "model.zip" };
        var flags = new TrainingFlags(defaultBatchSize: 32, search: true);
        var head = new ClassifierFlags();
        var generateCode = new Option<string?>("--generate-code") { Description = "Folder to write a C# console project that loads model.zip and predicts an image." };
        var command = new Command("finetune",
            "Fine-tune BEiT as an image classifier and save model.zip. Options not given come from the recipe for the starting model and the data, printed when training starts.")
        {
            data, validation, model, output, generateCode,
        };
        flags.AddTo(command);
        head.AddTo(command);
        command.SetAction((parse, cancellation) => Task.FromResult(CommandRunner.Run(parse, () =>
        {
            var ml = new MLContext(seed: parse.GetValue(flags.Seed));
            TrainingFlags.ShowTrainerMessages(ml);
            var train = LabeledImages.Load(parse.GetValue(data)!);
            var validationRows = parse.GetValue(validation) is { } v ? LabeledImages.Load(v) : null;
            var options = new BeitFinetuneOptions
            {
                Model = BeitModelSource.Parse(parse.GetValue(model)!),
                ImageColumnName = "Path",
                ScoreColumnName = "Score",
                PredictedLabelColumnName = "PredictedLabelKey",
            };
            flags.Apply(parse, options, cancellation);
            head.Apply(parse, options);
            Train(ml, train, validationRows, options, parse.GetValue(output)!);
            if (parse.GetValue(generateCode) is { } code)
                ConsumptionProject.Write(code, parse.GetValue(output)!);
        })));
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
