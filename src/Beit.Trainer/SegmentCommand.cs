using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.Data;

namespace Beit.Trainer;

/// <summary>
/// <c>beit segment train|evaluate|predict|canvases</c>: semantic segmentation on folders in the ADE20K layout
/// (images/&lt;split&gt;, annotations/&lt;split&gt; with gray label PNGs, optional classes.txt).
/// </summary>
internal static class SegmentCommand
{
    /// <summary>One row of a segmentation data set.</summary>
    public sealed class Row
    {
        /// <summary>Image path.</summary>
        public string Image { get; set; } = "";
        /// <summary>Label-map path.</summary>
        public string Label { get; set; } = "";
    }

    public static Command Create() => new("segment", "Semantic segmentation with BEiT + UperNet: train, evaluate, predict, and make a demo data set.")
    {
        Train(), Evaluate(), Predict(), Canvases(),
    };

    static Command Train()
    {
        var data = new Option<string>("--data") { Description = "ADE20K-layout folder: images/training + annotations/training (and validation, used every epoch).", Required = true };
        var model = new Option<string>("--model") { Description = "Starting checkpoint, a preset (tiny, base, large) or a config.json for random initialisation.", Required = true };
        var output = new Option<string>("--output") { Description = "Model zip to write.", DefaultValueFactory = _ => "segmenter.zip" };
        var flags = new TrainingFlags(defaultBatchSize: 8, search: true);
        var cropSize = new Option<int?>("--crop-size") { Description = "Training crop and inference window (default: the model's image size; for a preset the recipe's, from the images' size)." };
        var patchSize = new Option<int?>("--patch-size") { Description = "Patch size of a new model from a preset (default: the recipe's)." };
        var classWeighting = new ChoiceOption<BeitClassWeighting>("--class-weighting",
            "Loss weights per class: none or balanced (default: the recipe's, balanced when one class covers most pixels).");
        var labelSmoothing = new Option<double?>("--label-smoothing") { Description = "Label smoothing of the loss (default: the recipe's, 0)." };
        var augment = new Option<bool>("--augment") { Description = "Random scale, crop and flip of training images: true or false.", DefaultValueFactory = _ => true };
        var horizontalFlip = new Option<double>("--horizontal-flip") { Description = "Probability of a horizontal flip.", DefaultValueFactory = _ => 0.5 };
        var auxiliaryHead = new Option<bool>("--auxiliary-head") { Description = "Add the auxiliary FCN head and its loss to a new model: true or false.", DefaultValueFactory = _ => true };
        var reduceLabels = new Option<bool>("--reduce-labels") { Description = "ADE20K convention: label 0 is ignored and the others drop by one." };
        var command = new Command("train",
            "Train a BEiT segmentation model and save it as a model zip. Options not given come from the recipe for the starting model and the data, printed when training starts.")
        {
            data, model, output, cropSize, patchSize, classWeighting, labelSmoothing, augment, horizontalFlip, auxiliaryHead, reduceLabels,
        };
        flags.AddTo(command);
        command.SetAction((parse, cancellation) => Task.FromResult(CommandRunner.Run(parse, () =>
        {
            var ml = new MLContext(seed: parse.GetValue(flags.Seed));
            TrainingFlags.ShowTrainerMessages(ml);
            string root = parse.GetValue(data)!;
            var train = Load(ml, root, "training");
            var validation = HasSplit(root, "validation") ? Load(ml, root, "validation") : null;
            bool reduce = parse.GetValue(reduceLabels);
            var classes = ClassNames(root, reduce);
            string modelArg = parse.GetValue(model)!;
            var options = new BeitSegmentationOptions
            {
                Model = BeitModelSource.Parse(modelArg),
                ClassNames = classes,
                CropSize = parse.GetValue(cropSize),
                PatchSize = parse.GetValue(patchSize),
                ClassWeighting = classWeighting.Get(parse),
                LabelSmoothing = parse.GetValue(labelSmoothing),
                Augment = parse.GetValue(augment),
                HorizontalFlip = parse.GetValue(horizontalFlip),
                AuxiliaryHead = parse.GetValue(auxiliaryHead),
                ReduceLabels = reduce,
                ValidationSet = validation,
                Progress = new ConsoleProgress("mIoU"),
            };
            flags.Apply(parse, options, cancellation);
            Console.WriteLine($"Training on {train.GetRowCount()} images of {classes.Count} classes{(validation is null ? "" : $", validating on {validation.GetRowCount()}")}");
            using var segmenter = ml.SemanticSegmentation().Trainers.Beit(options).Fit(train);
            Console.Error.WriteLine();
            if (validation is not null)
            {
                Console.WriteLine("Metrics on the validation images:");
                Console.WriteLine(ml.SemanticSegmentation().Evaluate(segmenter.Transform(validation), reduceLabels: reduce));
            }
            string zip = parse.GetValue(output)!;
            ml.Model.Save(segmenter, train.Schema, zip);
            Console.WriteLine($"Model {zip}");
        })));
        return command;
    }

    static Command Evaluate()
    {
        var model = new Option<string>("--model") { Description = "A segmentation model zip.", Required = true };
        var data = new Option<string>("--data") { Description = "ADE20K-layout folder.", Required = true };
        var split = new Option<string>("--split") { Description = "Which split to evaluate.", DefaultValueFactory = _ => "validation" };
        var command = new Command("evaluate", "Print mIoU, pixel accuracy, mean class accuracy and per-class IoU of a segmentation model.") { model, data, split };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var ml = new MLContext(seed: 1);
            var (segmenter, _) = LoadModel(ml, parse.GetValue(model)!);
            using var disposable = segmenter;
            var rows = Load(ml, parse.GetValue(data)!, parse.GetValue(split)!);
            Console.WriteLine(ml.SemanticSegmentation().Evaluate(segmenter.Transform(rows), reduceLabels: segmenter.ReduceLabels, ignoreIndex: segmenter.IgnoreIndex));
        }));
        return command;
    }

    static Command Predict()
    {
        var model = new Option<string>("--model") { Description = "A segmentation model zip.", Required = true };
        var images = new Option<string>("--images") { Description = "A folder of images (or one image).", Required = true };
        var output = new Option<string>("--output") { Description = "Folder for the masks: NAME_mask.png (class ids), NAME_color.png, NAME_overlay.png.", DefaultValueFactory = _ => "masks" };
        var command = new Command("predict", "Write a class-id mask, a color-coded mask and an overlay for each image.") { model, images, output };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var ml = new MLContext(seed: 1);
            var (segmenter, _) = LoadModel(ml, parse.GetValue(model)!);
            using var disposable = segmenter;
            string source = parse.GetValue(images)!, folder = parse.GetValue(output)!;
            var files = File.Exists(source) ? [source] : BeitImageFiles.Find(source, recursive: false).ToList();
            if (files.Count == 0) throw new FileNotFoundException($"No images ({string.Join(", ", BeitImageFiles.Extensions)}) in '{source}'.");
            Directory.CreateDirectory(folder);
            foreach (var batch in files.Chunk(Math.Max(1, segmenter.BatchSize)))
            {
                var pictures = batch.Select(RgbImage.Load).ToList();
                var masks = segmenter.PredictMasks(pictures);
                for (int i = 0; i < batch.Length; i++)
                {
                    string name = Path.GetFileNameWithoutExtension(batch[i]);
                    var ids = masks[i].Select(v => (byte)v).ToArray();
                    SegmentationLabelMap.Write(Path.Combine(folder, name + "_mask.png"), ids, pictures[i].Width, pictures[i].Height);
                    SegmentationMaskRendering.WriteColorMask(Path.Combine(folder, name + "_color.png"), ids, pictures[i].Width, pictures[i].Height);
                    SegmentationMaskRendering.WriteOverlay(Path.Combine(folder, name + "_overlay.png"), pictures[i], ids, pictures[i].Width, pictures[i].Height);
                    var present = masks[i].GroupBy(v => v).OrderByDescending(g => g.Count())
                        .Select(g => $"{segmenter.ClassNames[g.Key]} {100.0 * g.Count() / masks[i].Length:F0}%");
                    Console.WriteLine($"{batch[i]}\t{string.Join(", ", present)}");
                }
            }
            Console.WriteLine($"Masks in {folder}");
        }));
        return command;
    }

    static Command Canvases()
    {
        var data = new Option<string?>("--data") { Description = "The Fashion-MNIST IDX folder (default: samples/data/fashion-mnist of this repository)." };
        var output = new Option<string>("--output") { Description = "Folder for the ADE20K-layout data set.", DefaultValueFactory = _ => "fashion-canvases" };
        var size = new Option<int>("--canvas-size") { Description = "Canvas size in pixels.", DefaultValueFactory = _ => 64 }.Formerly("--size");
        var training = new Option<int>("--training-canvases") { Description = "Training canvases.", DefaultValueFactory = _ => 200 }.Formerly("--training");
        var validation = new Option<int>("--validation-canvases") { Description = "Validation canvases.", DefaultValueFactory = _ => 50 }.Formerly("--validation");
        var classes = new Option<string?>("--classes") { Description = "Comma-separated Fashion-MNIST class numbers 0-9 to draw items from (default all)." };
        classes.Check(list => (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(part => !int.TryParse(part, out int number) || number is < 0 or > 9) is { } wrong
            ? $"--classes '{wrong}' is not a Fashion-MNIST class number: use numbers 0-9 separated by commas." : null);
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };
        var command = new Command("canvases", "Compose a segmentation data set from Fashion-MNIST items on canvases (pixel label = item class).")
        {
            data, output, size, training, validation, classes, seed,
        };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var set = FashionMnistCanvases.Generate(new FashionMnistCanvasOptions
            {
                SourceFolder = parse.GetValue(data) ?? FashionMnistIdx.FindBundledFolder(),
                OutputFolder = parse.GetValue(output)!,
                CanvasSize = parse.GetValue(size),
                TrainingCanvases = parse.GetValue(training),
                ValidationCanvases = parse.GetValue(validation),
                Classes = parse.GetValue(classes)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList(),
                Seed = parse.GetValue(seed),
            });
            Console.WriteLine($"{set.TrainingCanvases} training and {set.ValidationCanvases} validation canvases of {set.CanvasSize}x{set.CanvasSize} in {set.Root}");
            Console.WriteLine($"Classes: {string.Join(", ", set.ClassNames)}");
        }));
        return command;
    }

    static bool HasSplit(string root, string split) => Directory.Exists(Path.Combine(root, "images", split));

    static IDataView Load(MLContext ml, string root, string split) =>
        ml.Data.LoadFromEnumerable(SegmentationFolder.Read(root, split).Select(s => new Row { Image = s.ImagePath, Label = s.LabelPath }).ToList());

    // classes.txt names the classes; without it the largest label (ignoring 255) sets their number.
    static IReadOnlyList<string> ClassNames(string root, bool reduceLabels)
    {
        var names = SegmentationFolder.ReadClassNames(root);
        if (names.Count > 0) return reduceLabels ? names.Skip(1).ToList() : names;
        int largest = 0;
        foreach (var sample in SegmentationFolder.Read(root, "training"))
            foreach (var value in SegmentationLabelMap.Read(sample.LabelPath, out _, out _))
                if (value != 255) largest = Math.Max(largest, value);
        int count = reduceLabels ? largest : largest + 1;
        return Enumerable.Range(0, count).Select(i => $"class_{i}").ToList();
    }

    static (BeitSemanticSegmentationTransformer Model, DataViewSchema Schema) LoadModel(MLContext ml, string path)
    {
        var loaded = ml.Model.Load(path, out var schema);
        return loaded switch
        {
            BeitSemanticSegmentationTransformer s => (s, schema),
            TransformerChain<ITransformer> chain when chain.LastTransformer is BeitSemanticSegmentationTransformer s => (s, schema),
            _ => throw new InvalidDataException($"'{path}' is not a BEiT segmentation model zip (it holds {loaded.GetType().Name})."),
        };
    }
}
