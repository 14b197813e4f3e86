using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Onnx;
using Onnx;

namespace Beit.Trainer;

/// <summary>
/// <c>beit export-onnx</c>: writes a model as an ONNX file for ONNX Runtime. The model is a checkpoint (classifier,
/// backbone, masked image modeling or semantic segmentation), or a model zip written by this library: a classifier's
/// zip exports its logits and probabilities; a featurizer's zip exports its features with the pooling it was saved
/// with; a segmenter's zip exports its logits. The preprocessing goes into the file's metadata.
/// </summary>
internal static class ExportOnnxCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint (Hugging Face directory, .safetensors, .pth) or a model.zip with a BEiT classifier, featurizer or segmenter.", Required = true };
        var output = new Option<string>("--output")
        {
            Description = "ONNX file to write; or, for a model.zip, a .zip: the same ML.NET model with its BEiT transformers scoring through ONNX Runtime (Backend = Onnx), which loads without LibTorch.",
            DefaultValueFactory = _ => "model.onnx",
        };
        var externalData = new Option<bool>("--external-data") { Description = "Write the weights to <output>.data beside the graph (ONNX external data); automatic over 2 GB." };
        var device = new Option<string>("--device") { Description = $"With a .zip output: the ONNX Runtime device saved with the model: {BeitDevice.Choices}.", DefaultValueFactory = _ => "auto" }.Device();
        var pooling = new ChoiceOption<BeitPooling>("--pooling",
            "Pooling of the features output: mean, cls, tokens or cls-attention. Default: the model's own pooler (a featurizer zip: its saved pooling).");
        var featuresOnly = new Option<bool>("--features-only") { Description = "Export only the backbone's features (drops a classifier, masked-image-modeling or segmentation head)." };
        var maskInput = new Option<bool>("--include-mask-input") { Description = "Masked image modeling: add the input bool_masked_pos [batch, patches] (1 = masked, replaced by the mask token)." }.Formerly("--mask-input");
        var upsampledLogits = new Option<bool>("--include-upsampled-logits") { Description = "Semantic segmentation: also output upsampled_logits, the logits bilinearly resized to the input size." }.Formerly("--upsampled-logits");
        var layer = new Option<int>("--layer") { Description = "Hidden state the features pool: 0 the embeddings, k block k, -1 the last (default; a featurizer zip: its saved layer).", DefaultValueFactory = _ => -1 };
        var normalize = new Option<bool>("--normalize-l2") { Description = "Scale the features to unit length." }.Formerly("--normalize");
        var lastHiddenState = new Option<bool>("--include-last-hidden-state") { Description = "Also output last_hidden_state [batch, 1 + patches, hidden]." }.Formerly("--last-hidden-state");
        var quantize = new ChoiceOption<BeitOnnxQuantization>("--quantization",
            "int8-dynamic: int8 weights for the linear layers, their inputs quantized at run time (about 4x smaller; faster on CPUs with " +
            "VNNI; slightly different outputs). none: float32.", BeitOnnxQuantization.None);
        quantize.Aliases.Add("--quantize");
        var checkpoint = new CheckpointOptions();
        var command = new Command("export-onnx", "Export a BEiT classifier, backbone, masked-image-modeling or segmentation model to an ONNX file (ONNX Runtime, ML.NET ApplyOnnxModel).")
        {
            model, output, pooling, layer, featuresOnly, normalize, lastHiddenState, maskInput, upsampledLogits, quantize, externalData, device,
        };
        checkpoint.AddTo(command);
        command.Validators.Add(result =>
        {
            if (result.GetValue(output) is { } zip && zip.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)
                && result.GetValue(model) is { } source && !source.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
                result.AddError($"--output '{zip}' is a .zip, which needs a model.zip written by this library as --model, not '{source}'; for a checkpoint write a .onnx file.");
        });
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string modelPath = parse.GetValue(model)!;
            string outputPath = parse.GetValue(output)!;
            var quantization = quantize.Get(parse)!.Value;
            if (outputPath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
            {
                ToOnnxBackendZip(modelPath, outputPath, parse.GetValue(device)!, quantization);
                return;
            }
            var options = new BeitOnnxExportOptions
            {
                Pooling = pooling.Get(parse),
                Layer = parse.GetValue(layer),
                FeaturesOnly = parse.GetValue(featuresOnly),
                NormalizeL2 = parse.GetValue(normalize),
                IncludeLastHiddenState = parse.GetValue(lastHiddenState),
                IncludeMaskInput = parse.GetValue(maskInput),
                IncludeUpsampledLogits = parse.GetValue(upsampledLogits),
                Quantization = quantization,
            };
            var onnx = modelPath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) && File.Exists(modelPath)
                ? FromModelZip(modelPath, options)
                : FromCheckpoint(checkpoint, parse, modelPath, options);
            BeitOnnxExporter.Save(onnx, outputPath, parse.GetValue(externalData) ? true : null);
            Report(onnx, outputPath);
        }));
        return command;
    }

    static ModelProto FromCheckpoint(CheckpointOptions checkpointOptions, ParseResult parse, string path, BeitOnnxExportOptions options)
    {
        var source = BeitModelSource.FromPath(path);
        using var checkpoint = checkpointOptions.Load(parse, path);
        options.Preprocessor = source.FindPreprocessorConfig();
        return BeitOnnxExporter.Build(checkpoint, options);
    }

    // The last BEiT transformer of the pipeline decides: a classifier or segmenter exports as one, a featurizer with its saved settings.
    static ModelProto FromModelZip(string path, BeitOnnxExportOptions options)
    {
        var loaded = new MLContext().Model.Load(path, out _);
        try
        {
            return BeitOnnxExporter.Build(loaded, options);
        }
        catch (ArgumentException e) when (e.ParamName == "model")
        {
            throw new InvalidDataException($"{path} holds no BEiT classifier, featurizer or segmenter; it was not written by this library.", e);
        }
        finally
        {
            foreach (var t in loaded is IEnumerable<ITransformer> chain ? chain : [loaded]) (t as IDisposable)?.Dispose();
        }
    }

    // The whole ML.NET model with every BEiT transformer moved to ONNX Runtime: what a deployed app loads without LibTorch.
    static void ToOnnxBackendZip(string modelPath, string outputPath, string device, BeitOnnxQuantization quantization)
    {
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"--model '{modelPath}' does not exist.", modelPath);
        var ml = new MLContext();
        var loaded = ml.Model.Load(modelPath, out var schema);
        var converted = ml.Model.ToOnnxBackend(loaded, device, quantization: quantization);
        try
        {
            ml.Model.Save(converted, schema, outputPath);
        }
        finally
        {
            foreach (var t in ((converted as IEnumerable<ITransformer>) ?? [converted]).Concat((loaded as IEnumerable<ITransformer>) ?? [loaded]).Distinct())
                (t as IDisposable)?.Dispose();
        }
        Console.WriteLine($"File {Path.GetFullPath(outputPath)}");
        Console.WriteLine($"Size {new FileInfo(outputPath).Length / 1e6:F2} MB");
        Console.WriteLine("Backend Onnx");
        Console.WriteLine($"Device {device}");
        if (quantization != BeitOnnxQuantization.None) Console.WriteLine($"Quantization {quantization}");
    }

    static void Report(ModelProto onnx, string path)
    {
        static string Shape(ValueInfoProto value) => $"[{string.Join(", ", value.Type.TensorType.Shape.Dim.Select(d => d.DimParam is { Length: > 0 } p ? p : d.DimValue.ToString()))}]";
        Console.WriteLine($"File {Path.GetFullPath(path)}");
        Console.WriteLine($"Size {new FileInfo(path).Length / 1e6:F2} MB");
        if (File.Exists(path + ".data"))
            Console.WriteLine($"ExternalData {Path.GetFullPath(path + ".data")} {new FileInfo(path + ".data").Length / 1e6:F2} MB");
        Console.WriteLine($"IrVersion {onnx.IrVersion}");
        Console.WriteLine($"Opset {onnx.OpsetImport[0].Version}");
        Console.WriteLine($"Nodes {onnx.Graph.Node.Count}");
        if (onnx.MetadataProps.FirstOrDefault(p => p.Key == BeitOnnxExporter.QuantizationKey) is { } quantized)
            Console.WriteLine($"Quantization {quantized.Value}");
        foreach (var input in onnx.Graph.Input) Console.WriteLine($"Input {input.Name} {Shape(input)}");
        foreach (var result in onnx.Graph.Output) Console.WriteLine($"Output {result.Name} {Shape(result)}");
    }
}
