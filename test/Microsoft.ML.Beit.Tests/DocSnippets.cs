// The C# snippets of README.md, PACKAGE.md and docs/*.md, verbatim, so that the build compiles them. They are never run
// (they need real checkpoints and photos); DocSnippetTests checks that every snippet in the docs appears here.
// When you change a snippet in the docs, change it here too (and the other way round).
#pragma warning disable CS8321, IDE0059, IDE0060 // snippets declare what a reader would use next
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Onnx;
using Microsoft.ML.Beit.Pretraining;
using Microsoft.ML.Beit.Segmentation;
using TorchSharp;

namespace Microsoft.ML.Beit.Tests.Snippets;

internal static class DocSnippets
{
    /// <summary>README.md and PACKAGE.md: "Or do it in C#" / "Featurize images".</summary>
    static void UseYourOwnImages()
    {
        var ml = new MLContext(seed: 1);
        var photos = ml.Data.LoadFromEnumerable(Directory.GetFiles("photos").Select(p => new ImageFile { Path = p }));
        var featurizer = ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
        {
            Model = BeitModelSource.FromDirectory("beit-large-patch16-224-pt22k"),
        }).Fit(photos);
        IDataView features = featurizer.Transform(photos);      // a float vector column "Features" of 1,024 values per image
        ml.Model.Save(featurizer, photos.Schema, "featurizer.zip");
    }

    sealed class ImageFile { public string Path { get; set; } = ""; }

    /// <summary>README.md: "The API at a glance".</summary>
    static void ApiAtAGlance(MLContext ml, IDataView images, IDataView labeled, IDataView test, IDataView maps, string[] names,
        IBeitVisualTokenizer tokenizer, IDataView unlabeled)
    {
        var beit = BeitModelSource.FromPath("beit-base-patch16-224-pt22k");   // a Hugging Face folder, .safetensors, .pth or a model zip

        // 1. Features: a float vector per image, for a linear probe, clustering or search.
        var featurizer = ml.Transforms.BeitFeaturize("Features", "ImagePath", new BeitFeaturizerOptions { Model = beit }).Fit(images);

        // 2. Fine-tuning: a multiclass classifier with unilm's recipe (layer decay, warmup + cosine, drop path, ...).
        var classifier = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.BeitFinetune("Label", "ImagePath", "beit-base-patch16-224-pt22k", epochs: 10)).Fit(labeled);
        var metrics = ml.MulticlassClassification.Evaluate(classifier.Transform(test));

        // 3. Semantic segmentation: BEiT + UperNet, a class id per pixel, mIoU.
        var segmenter = ml.SemanticSegmentation().Trainers.Beit(new BeitSegmentationOptions { Model = beit, ClassNames = names }).Fit(maps);

        // 4. Pretraining: masked image modeling on unlabeled images (here from random weights); the result is a backbone to fine-tune.
        var backbone = ml.Transforms.BeitPretrain(new BeitPretrainOptions { Model = BeitModelSource.FromPreset("base"), Tokenizer = tokenizer }).Fit(unlabeled);

        // 5. ONNX: score through ONNX Runtime, and deploy without LibTorch.
        ml.Model.Save(ml.Model.ToOnnxBackend(classifier), labeled.Schema, "deployed.zip");
    }

    /// <summary>docs/featurization.md.</summary>
    static void Featurization()
    {
        var ml = new MLContext(seed: 1);
        var images = ml.Data.LoadFromEnumerable(Directory.GetFiles("photos").Select(p => new { Path = p }));
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
            .Append(ml.Transforms.BeitFeaturize("Features", "Image", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromDirectory("beit-large-patch16-224-pt22k"),   // or FromFile("x.pth", configPath)
                Pooling = BeitPooling.Mean,     // Mean, Cls, Tokens (all patch tokens) or ClsAttention (below)
                Layer = -1,                     // 0 = embeddings, k = block k, negative from the end
                BatchSize = 8, Device = "auto", NormalizeL2 = false,
            }));
        var model = pipeline.Fit(images);
        IDataView features = model.Transform(images);          // a float vector column "Features"
        ml.Model.Save(model, images.Schema, "featurizer.zip");  // options, config, preprocessing and weights in the zip
    }

    /// <summary>docs/fine-tuning.md.</summary>
    static void FineTuning(IDataView validation, IDataView test)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(LoadRows("photos/train"));      // rows of { Path, Label }
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.BeitFinetune(new BeitFinetuneOptions
            {
                Model = BeitModelSource.FromDirectory("beit-base-patch16-224-pt22k"),
                ImageColumnName = "Path",          // an MLImage, encoded bytes or a file path
                BatchSize = 32,                    // epochs, learning rate, layer decay, ...: the recipe's unless you set them
                ValidationSet = validation,        // evaluated every epoch; the best epoch's weights are kept
                CheckpointDirectory = "checkpoints",
                Progress = new Progress<BeitTrainingProgress>(p => Console.WriteLine($"{p.Epoch} {p.Step} {p.Loss:F3}")),
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        ml.Model.Save(model, train.Schema, "model.zip");
    }

    static IEnumerable<LabeledImage> LoadRows(string folder) =>
        Directory.GetDirectories(folder).SelectMany(d => Directory.GetFiles(d).Select(p => new LabeledImage { Path = p, Label = System.IO.Path.GetFileName(d) }));

    sealed class LabeledImage
    {
        public string Path { get; set; } = "";
        public string Label { get; set; } = "";
    }

    /// <summary>docs/segmentation.md.</summary>
    static void Segmentation(IDataView validation, string[] ade20kClassNames)
    {
        var ml = new MLContext(seed: 1);
        // Row is your class with string Image and Label: label PNGs hold class ids as gray values.
        var rows = SegmentationFolder.Read("ade", "training").Select(s => new Row { Image = s.ImagePath, Label = s.LabelPath });
        var train = ml.Data.LoadFromEnumerable(rows);
        var segmenter = ml.SemanticSegmentation().Trainers.Beit(new BeitSegmentationOptions
        {
            Model = BeitModelSource.FromDirectory("beit-base-patch16-224-pt22k"),   // any BEiT backbone, or a segmentation model
            ClassNames = ade20kClassNames,       // the 150 names, in class-id order after ReduceLabels
            ReduceLabels = true,                 // ADE20K: 0 is "other" (ignored), 1..150 become 0..149
            Epochs = 20, BatchSize = 8, LearningRate = 5e-5,
            ValidationSet = validation,          // mIoU every epoch; the best epoch is kept
        }).Fit(train);
        var metrics = ml.SemanticSegmentation().Evaluate(segmenter.Transform(validation), reduceLabels: true);
        Console.WriteLine(metrics);              // MeanIoU, PixelAccuracy, MeanClassAccuracy, per-class IoU and accuracy
        ml.Model.Save(segmenter, train.Schema, "segmenter.zip");
    }

    sealed class Row
    {
        public string Image { get; set; } = "";
        public string Label { get; set; } = "";
    }

    /// <summary>docs/pretraining.md.</summary>
    static void Pretraining(MLContext ml, IDataView unlabeledImages)
    {
        using var tokenizer = VisualTokenizers.Load("tokenizer.safetensors");   // a dVAE trained with `beit tokenizer train`, or DALL-E's encoder
        var backbone = ml.Transforms.BeitPretrain(new BeitPretrainOptions
        {
            Model = BeitModelSource.FromPreset("base"),   // or a config, or a checkpoint to continue from
            Tokenizer = tokenizer,
            ImageColumnName = "Path",
            Epochs = 100, BatchSize = 64,
            CheckpointDirectory = "pretrain-checkpoints",   // ResumeFrom continues an interrupted run
            HuggingFaceOutputDirectory = "beit-mim",        // also a BeitForMaskedImageModeling checkpoint
        }).Fit(unlabeledImages);
        ml.Model.Save(backbone, unlabeledImages.Schema, "backbone.zip");
        // backbone is a featurizer (adds Features); fine-tuning starts from its zip:
        var classifier = ml.MulticlassClassification.Trainers.BeitFinetune(new BeitFinetuneOptions { Model = BeitModelSource.FromPath("backbone.zip"), ImageColumnName = "Path" });
    }

    /// <summary>docs/checkpoints-and-model.md.</summary>
    static void Checkpoints(torch.Tensor pixelValues)
    {
        using var checkpoint = BeitCheckpoint.Load("beit-large-patch16-224-pt22k");   // or "beit_large_patch16_224_pt22k.pth"
        using var model = (BeitForMaskedImageModeling)checkpoint.CreateModel();
        using var output = model.beit.forward(pixelValues, boolMaskedPos: null, outputHiddenStates: true);
    }

    /// <summary>docs/onnx-and-deployment.md: export.</summary>
    static void OnnxExport()
    {
        using var checkpoint = BeitCheckpoint.Load("beit-base-patch16-224");
        BeitOnnxExporter.Export(checkpoint, "beit.onnx");
        // A TorchSharp module (checkpoint.CreateModel(), or one you trained) exports the same way:
        using var module = checkpoint.CreateModel();
        BeitOnnxExporter.Export(module, "beit-module.onnx");
    }

    /// <summary>docs/onnx-and-deployment.md: scoring the exported file in ML.NET.</summary>
    static void OnnxInMLNet(MLContext ml)
    {
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
            .Append(ml.Transforms.ResizeImages("Image", 224, 224, "Image"))
            .Append(ml.Transforms.ExtractPixels("pixel_values", "Image", interleavePixelColors: false,
                offsetImage: 127.5f, scaleImage: 1 / 127.5f))            // ExtractPixels computes (byte - offset) * scale
            .Append(ml.Transforms.ApplyOnnxModel(["probabilities"], ["pixel_values"], "model.onnx"));
    }

    /// <summary>docs/onnx-and-deployment.md: Backend = Onnx.</summary>
    static void OnnxBackend(MLContext ml, IDataView data, ITransformer model)
    {
        // Choose it when fitting (training still runs in TorchSharp; the trained model is exported at the end) ...
        var featurizer = ml.Transforms.BeitFeaturize("Features", "Image",
            new BeitFeaturizerOptions { Model = BeitModelSource.FromPath("beit-base"), Backend = BeitBackend.Onnx }).Fit(data);
        var options = new BeitFinetuneOptions { /* ... */ Backend = BeitBackend.Onnx };     // BeitSegmentationOptions too

        // ... or move a fitted model (or a whole pipeline) and save it for deployment.
        ITransformer deployed = ml.Model.ToOnnxBackend(model, device: "cpu");
        ml.Model.Save(deployed, data.Schema, "deployed.zip");
    }

    /// <summary>docs/scale-out.md: "From C#".</summary>
    static void FeaturesToParquet()
    {
        var ml = new MLContext(seed: 1);
        var photos = ml.Data.LoadFromEnumerable(Directory.GetFiles("photos").Select(p => new { Path = p }));
        using var featurizer = ml.Transforms.BeitFeaturize("Features", "Path", new BeitFeaturizerOptions
        {
            Model = BeitModelSource.FromDirectory("beit-base-patch16-224-pt22k"),
        }).Fit(photos);
        using (var stream = File.Create("features.parquet"))
            ml.Data.SaveFeaturesAsParquet(featurizer.Transform(photos), stream, featuresColumnName: "Features", pathColumnName: "Path",
                metadata: new Dictionary<string, string> { ["beit.model"] = "beit-base-patch16-224-pt22k", ["beit.pooling"] = featurizer.Pooling.ToString() });
    }

    /// <summary>docs/onnx-and-deployment.md: int8 quantization.</summary>
    static void OnnxInt8(MLContext ml, BeitCheckpoint checkpoint, ITransformer model)
    {
        BeitOnnxExporter.Export(checkpoint, "beit-int8.onnx", new BeitOnnxExportOptions { Quantization = BeitOnnxQuantization.Int8Dynamic });
        ITransformer deployedInt8 = ml.Model.ToOnnxBackend(model, device: "cpu", quantization: BeitOnnxQuantization.Int8Dynamic);
        var int8Options = new BeitFinetuneOptions { /* ... */ Backend = BeitBackend.Onnx, OnnxQuantization = BeitOnnxQuantization.Int8Dynamic };
    }
}
