// Scores images with a BEiT model zip whose transformers use Backend = Onnx, without LibTorch:
//   dotnet run --project samples/OnnxDeployment -- model.zip image1.png [image2.jpg ...]
// Make such a zip from a `beit finetune` or `beit quickstart` model with `beit export-onnx --model model.zip --output deployed.zip`,
// or in code with mlContext.Model.ToOnnxBackend(model) and mlContext.Model.Save.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: OnnxDeployment <model.zip saved with Backend = Onnx> <image>...");
    return 2;
}

var ml = new MLContext();
var model = ml.Model.Load(args[0], out var inputSchema);
// The model's input names the column of image paths: ImagePath here, Path in zips written by `beit finetune` and
// `beit quickstart`. Their pipelines also start by mapping a text Label column, which is left empty when predicting.
var textColumns = inputSchema.Where(c => c.Type is TextDataViewType).Select(c => c.Name).ToList();
string imageColumn = textColumns.FirstOrDefault(n => n is "ImagePath" or "Path") ?? textColumns.FirstOrDefault()
    ?? throw new InvalidOperationException($"{args[0]} reads no text column of image paths (its input: {string.Join(", ", inputSchema.Select(c => c.Name))}).");
var inputDefinition = SchemaDefinition.Create(typeof(ImageInput));
inputDefinition[nameof(ImageInput.ImagePath)].ColumnName = imageColumn;
if (!textColumns.Contains("Label") || imageColumn == "Label") inputDefinition.RemoveAll(c => c.MemberName == nameof(ImageInput.Label));
var images = ml.Data.LoadFromEnumerable(args.Skip(1).Select(path => new ImageInput { ImagePath = path }), inputDefinition);
var scored = model.Transform(images);

// The scored columns: a classifier's PredictedLabel (a key mapped back to the class name, or already the name) and Score,
// a featurizer's Features.
var predictedLabel = scored.Schema.GetColumnOrNull("PredictedLabel");
if (predictedLabel is { } label)
{
    var named = (label.Type is KeyDataViewType
        ? (IEstimator<ITransformer>)ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel")
        : ml.Transforms.CopyColumns("PredictedClass", "PredictedLabel")).Fit(scored).Transform(scored);
    var rows = ml.Data.CreateEnumerable<ClassPrediction>(named, reuseRowObject: false);
    foreach (var (path, row) in args.Skip(1).Zip(rows))
        Console.WriteLine($"{Path.GetFileName(path)}\t{row.PredictedClass}\t{row.Score.Max():F4}");
}
else
{
    var features = scored.Schema.First(c => c.Type is VectorDataViewType && c.Name != imageColumn);
    var column = scored.GetColumn<VBuffer<float>>(features.Name).ToList();
    foreach (var (path, vector) in args.Skip(1).Zip(column))
        Console.WriteLine($"{Path.GetFileName(path)}\t{features.Name}[{vector.Length}]\t{string.Join(" ", vector.DenseValues().Take(4).Select(v => v.ToString("F4")))} ...");
}

// The point of this app: nothing loaded LibTorch.
var torch = NativeLibraries().Where(library => library.Contains("libtorch", StringComparison.OrdinalIgnoreCase)).ToList();
Console.WriteLine($"LibTorch loaded: {(torch.Count == 0 ? "no" : string.Join(", ", torch))}");
return torch.Count == 0 ? 0 : 1;

// The shared libraries mapped into this process (Linux); elsewhere, the loaded modules.
static IEnumerable<string> NativeLibraries() => OperatingSystem.IsLinux()
    ? File.ReadLines("/proc/self/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length >= 6).Select(f => f[5]).Distinct()
    : System.Diagnostics.Process.GetCurrentProcess().Modules.Cast<System.Diagnostics.ProcessModule>().Select(m => m.FileName);

/// <summary>The input row: the model's image column reads file paths (renamed to the model's column); Label stays empty.</summary>
sealed class ImageInput
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>A classifier's output row.</summary>
sealed class ClassPrediction
{
    public string PredictedClass { get; set; } = "";
    public float[] Score { get; set; } = [];
}
