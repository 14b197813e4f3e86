// Scores images with a BEiT model zip whose transformers use Backend = Onnx, without LibTorch:
//   dotnet run --project samples/OnnxDeployment -- model.zip image1.png [image2.jpg ...]
// Make such a zip with `beit export-onnx --model model.zip --output deployed.zip`, or in code with
// mlContext.Model.ToOnnxBackend(model) and mlContext.Model.Save.
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
var model = ml.Model.Load(args[0], out _);
var images = ml.Data.LoadFromEnumerable(args.Skip(1).Select(path => new ImageInput { ImagePath = path }));
var scored = model.Transform(images);

// The scored columns: a classifier's PredictedLabel (mapped back to the class name) and Score, a featurizer's Features.
bool classifier = scored.Schema.GetColumnOrNull("PredictedLabel") is not null;
if (classifier)
{
    var named = ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(scored).Transform(scored);
    foreach (var row in ml.Data.CreateEnumerable<ClassPrediction>(named, reuseRowObject: false))
        Console.WriteLine($"{Path.GetFileName(row.ImagePath)}\t{row.PredictedClass}\t{row.Score.Max():F4}");
}
else
{
    var features = scored.Schema.First(c => c.Type is VectorDataViewType && c.Name != "ImagePath");
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

/// <summary>The input row: the model's image column reads file paths.</summary>
sealed class ImageInput
{
    public string ImagePath { get; set; } = "";
}

/// <summary>A classifier's output row.</summary>
sealed class ClassPrediction
{
    public string ImagePath { get; set; } = "";
    public string PredictedClass { get; set; } = "";
    public float[] Score { get; set; } = [];
}
