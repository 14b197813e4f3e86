using System.CommandLine;

namespace Beit.Trainer;

/// <summary>
/// <c>beit fashion-mnist</c>: writes Fashion-MNIST IDX files as PNG folders (one subfolder per class), the layout
/// <c>finetune</c>, <c>evaluate</c>, <c>pretrain</c> and <c>tokenizer train</c> read; with <c>--per-class</c> also a small
/// labelled subset (the few-label fine-tuning of the pretraining benchmark).
/// </summary>
internal static class FashionMnistCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "The Fashion-MNIST IDX folder (default: samples/data/fashion-mnist of this repository)." };
        var output = new Option<string>("--output") { Description = "Folder to write train/, test/ (and few/) into.", DefaultValueFactory = _ => "fashion-mnist" };
        var train = new Option<int>("--train-images") { Description = "Training images to write.", DefaultValueFactory = _ => 60000 };
        var test = new Option<int>("--test-images") { Description = "Test images to write.", DefaultValueFactory = _ => 10000 };
        var perClass = new Option<int?>("--per-class") { Description = "Also write few/ with the first N training images of each class." };
        var command = new Command("fashion-mnist", "Write Fashion-MNIST as PNG folders, one subfolder per class.") { data, output, train, test, perClass };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string source = parse.GetValue(data) ?? FashionMnistIdx.FindBundledFolder(), root = parse.GetValue(output)!;
            var trainRows = QuickstartCommand.Extract(source, "train", Path.Combine(root, "train"), parse.GetValue(train));
            var testRows = QuickstartCommand.Extract(source, "t10k", Path.Combine(root, "test"), parse.GetValue(test));
            Console.WriteLine($"{trainRows.Count} training images in {Path.Combine(root, "train")}, {testRows.Count} test images in {Path.Combine(root, "test")}");
            if (parse.GetValue(perClass) is int n)
            {
                var few = trainRows.GroupBy(r => r.Label).SelectMany(g => g.Take(n)).ToList();
                foreach (var row in few)
                {
                    string target = Path.Combine(root, "few", row.Label, Path.GetFileName(row.Path));
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Copy(row.Path, target, overwrite: true);
                }
                Console.WriteLine($"{few.Count} labelled images ({n} per class) in {Path.Combine(root, "few")}");
            }
        }));
        return command;
    }
}
