using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Data;

namespace Beit.Trainer;

/// <summary><c>beit evaluate</c> and <c>beit predict</c>: use a model zip written by <c>beit finetune</c>.</summary>
internal static class EvaluateCommand
{
    public static Command CreateEvaluate()
    {
        var model = new Option<string>("--model") { Description = "model.zip written by beit finetune.", Required = true };
        var data = new Option<string>("--data") { Description = "Folder with one subfolder per class, or a CSV of path,label.", Required = true };
        var command = new Command("evaluate", "Print accuracy, a per-class table and the confusion matrix of a model on labelled images.") { model, data };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var ml = new MLContext(seed: 1);
            var loaded = ml.Model.Load(parse.GetValue(model)!, out _);
            var scored = loaded.Transform(ml.Data.LoadFromEnumerable(LabeledImages.Load(parse.GetValue(data)!)));
            ClassificationReport.Print(ClassificationReport.Evaluate(ml, scored), Classifier(loaded, parse.GetValue(model)!).LabelNames);
        }));
        return command;
    }

    public static Command CreatePredict()
    {
        var model = new Option<string>("--model") { Description = "model.zip written by beit finetune.", Required = true };
        var images = new Option<string>("--images") { Description = "Folder of images (searched recursively) or one image file.", Required = true };
        var command = new Command("predict", "Print the predicted class and its probability for each image, as CSV: path,class,probability.") { model, images };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string where = parse.GetValue(images)!;
            var files = File.Exists(where) ? [where]
                : Directory.Exists(where) ? BeitImageFiles.Find(where).ToList()
                : throw new FileNotFoundException($"'{where}' is neither an image nor a folder.", where);
            var ml = new MLContext(seed: 1);
            var loaded = ml.Model.Load(parse.GetValue(model)!, out _);
            var scored = loaded.Transform(ml.Data.LoadFromEnumerable(files.Select(f => new LabeledImage { Path = f })));
            foreach (var row in ml.Data.CreateEnumerable<PredictionRow>(scored, reuseRowObject: false))
                Console.WriteLine(Csv.Record([row.Path, row.PredictedLabel, row.Score.Max().ToString("F4")]));
        }));
        return command;
    }

    sealed class PredictionRow
    {
        public string Path { get; set; } = "";
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    static BeitImageClassificationTransformer Classifier(ITransformer model, string path) =>
        (model as IEnumerable<ITransformer>)?.OfType<BeitImageClassificationTransformer>().FirstOrDefault()
        ?? throw new InvalidDataException($"{path} holds no BEiT classifier; write one with {Invocation.Command("finetune")}.");
}
