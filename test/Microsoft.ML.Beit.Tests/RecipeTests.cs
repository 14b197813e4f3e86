using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Recipes;
using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The training recipes: which one each starting model gets, the values each gives a model of that size on data of that
/// shape, that every option set by hand wins, and that a fitted model carries the recipe into its zip.
/// </summary>
[TestClass]
public sealed class RecipeTests
{
    static RecipeReport Report(BeitRecipe recipe) => new(recipe, "a test");

    static BeitCheckpoint Checkpoint(BeitArchitecture architecture, int layers) =>
        BeitCheckpoint.FromWeights("test.safetensors", new BeitConfig { NumHiddenLayers = layers, HiddenSize = 64, NumAttentionHeads = 4, IntermediateSize = 128 },
            architecture, new Dictionary<string, TorchSharp.torch.Tensor>());

    [TestMethod]
    public void TheStartingModelChoosesTheRecipe()
    {
        var preset = BeitModelSource.FromPreset("tiny");
        Assert.AreEqual(BeitRecipe.FromScratch, TrainingRecipes.Choose(BeitRecipe.Auto, preset, null).Recipe);
        using (var backbone = Checkpoint(BeitArchitecture.MaskedImageModeling, 24))
            Assert.AreEqual(BeitRecipe.Pretrained, TrainingRecipes.Choose(BeitRecipe.Auto, BeitModelSource.FromPath("x"), backbone).Recipe);
        using (var plain = Checkpoint(BeitArchitecture.Backbone, 12))
            Assert.AreEqual(BeitRecipe.Pretrained, TrainingRecipes.Choose(BeitRecipe.Auto, BeitModelSource.FromPath("x"), plain).Recipe);
        using (var classifier = Checkpoint(BeitArchitecture.ImageClassification, 12))
            Assert.AreEqual(BeitRecipe.ContinueTraining, TrainingRecipes.Choose(BeitRecipe.Auto, BeitModelSource.FromPath("x"), classifier).Recipe);
        using (var segmenter = Checkpoint(BeitArchitecture.SemanticSegmentation, 12))
            Assert.AreEqual(BeitRecipe.ContinueTraining, TrainingRecipes.Choose(BeitRecipe.Auto, BeitModelSource.FromPath("x"), segmenter).Recipe);
        Assert.AreEqual(BeitRecipe.Pretrained, TrainingRecipes.Choose(BeitRecipe.Pretrained, preset, null).Recipe, "an explicit recipe wins");
    }

    [TestMethod]
    public void APresetFromScratchGetsAPatchGridSizedToTheImages()
    {
        var tiny = BeitModelSource.FromPreset("tiny");
        var fashion = TrainingRecipes.RandomArchitecture(tiny, null, null, typicalSide: 28, grid: 8, Report(BeitRecipe.FromScratch));
        Assert.AreEqual((28, 4), (fashion.ImageSize, fashion.PatchSize));
        var shapes = TrainingRecipes.RandomArchitecture(tiny, null, null, typicalSide: 64, grid: 8, Report(BeitRecipe.FromScratch));
        Assert.AreEqual((64, 8), (shapes.ImageSize, shapes.PatchSize));
        var photos = TrainingRecipes.RandomArchitecture(BeitModelSource.FromPreset("base"), null, null, typicalSide: 1200, grid: 14, Report(BeitRecipe.FromScratch));
        Assert.AreEqual((224, 16), (photos.ImageSize, photos.PatchSize), "large images are capped at 224 with BEiT's own 16-pixel patches");
        var given = TrainingRecipes.RandomArchitecture(tiny, 48, null, typicalSide: 28, grid: 8, Report(BeitRecipe.FromScratch));
        Assert.AreEqual((48, 6), (given.ImageSize, given.PatchSize), "a given size keeps; the patch divides it");
        var config = BeitModelSource.FromConfig(FinetuneTests.FashionArchitecture());
        var kept = TrainingRecipes.RandomArchitecture(config, null, null, typicalSide: 64, grid: 8, Report(BeitRecipe.FromScratch));
        Assert.AreEqual((28, 7), (kept.ImageSize, kept.PatchSize), "a config is the user's architecture and keeps its sizes");
    }

    [TestMethod]
    public void EachRecipeGivesItsDocumentedValues()
    {
        var data = new TrainingData(Images: 1400, Classes: 10, TypicalSide: 32);
        var scratch = new BeitFinetuneOptions();
        TrainingRecipes.Classifier(scratch, Report(BeitRecipe.FromScratch), new BeitConfig { ImageSize = 32, PatchSize = 4, NumHiddenLayers = 3 }, data);
        Assert.AreEqual(1.0, scratch.LayerDecay);
        Assert.AreEqual(1.0, scratch.HeadInitScale);
        Assert.AreEqual(0.0, scratch.DropPath);
        Assert.AreEqual(1e-3, scratch.LearningRate!.Value, 1e-12);
        Assert.AreEqual(0, scratch.RandAugmentLayers, "small images get light augmentation");
        Assert.AreEqual(0.8, scratch.MinCropScale);
        Assert.AreEqual(91, scratch.Epochs, "4,000 steps of 44 a epoch");

        var large = new BeitFinetuneOptions { BatchSize = 32 };
        TrainingRecipes.Classifier(large, Report(BeitRecipe.Pretrained), new BeitConfig { NumHiddenLayers = 24 }, data with { TypicalSide = 224 });
        Assert.AreEqual(0.75, large.LayerDecay);
        Assert.AreEqual(0.2, large.DropPath);
        Assert.AreEqual(2e-3 * 32 / 1024, large.LearningRate!.Value, 1e-12, "unilm's 2e-3 at 1024 images a step, scaled to 32");
        Assert.AreEqual(0.001, large.HeadInitScale);
        Assert.AreEqual((2, 9.0, 0.25, 0.08), (large.RandAugmentLayers, large.RandAugmentMagnitude, large.RandomErasing, large.MinCropScale));

        var baseModel = new BeitFinetuneOptions { BatchSize = 64, AccumulationSteps = 2 };
        TrainingRecipes.Classifier(baseModel, Report(BeitRecipe.Pretrained), new BeitConfig { NumHiddenLayers = 12 }, data with { TypicalSide = 224 });
        Assert.AreEqual((0.65, 0.1), (baseModel.LayerDecay, baseModel.DropPath));
        Assert.AreEqual(4e-3 * 128 / 1024, baseModel.LearningRate!.Value, 1e-12, "the effective batch counts the accumulated micro-batches");

        var continued = new BeitFinetuneOptions();
        TrainingRecipes.Classifier(continued, Report(BeitRecipe.ContinueTraining), new BeitConfig { NumHiddenLayers = 12 }, data);
        Assert.AreEqual((0.0, 1.0), (continued.WarmupEpochs, continued.LayerDecay));
        Assert.AreEqual(4e-3 * 32 / 1024 / 10, continued.LearningRate!.Value, 1e-12);
    }

    [TestMethod]
    public void EveryOptionSetByHandWinsAndIsMarked()
    {
        var options = new BeitFinetuneOptions { LearningRate = 0.0123, Epochs = 3, LayerDecay = 0.5, RandAugmentLayers = 4, Augment = false };
        var report = Report(BeitRecipe.Pretrained);
        TrainingRecipes.Classifier(options, report, new BeitConfig { NumHiddenLayers = 24 }, new TrainingData(100, 2, 224));
        Assert.AreEqual((0.0123, 3, 0.5, 4, false), (options.LearningRate, options.Epochs, options.LayerDecay, options.RandAugmentLayers, options.Augment));
        string block = report.Describe();
        Console.WriteLine(block);
        StringAssert.Contains(block, "lr 0.0123 (set)");
        StringAssert.Contains(block, "epochs 3 (set)");
        StringAssert.Contains(block, "drop path 0.2");
        Assert.IsFalse(block.Contains("drop path 0.2 (set)"), "a value the recipe chose carries no mark");
        StringAssert.StartsWith(block, "recipe: fine-tuning a pretrained backbone, because a test");
    }

    [TestMethod]
    public void SegmentationWeighsTheClassesWhenOneCoversMostPixels()
    {
        var data = new TrainingData(300, 7, 96);
        var skewed = new BeitSegmentationOptions();
        TrainingRecipes.Segmenter(skewed, Report(BeitRecipe.FromScratch), new BeitConfig { NumHiddenLayers = 3 }, data, largestClassShare: 0.85);
        Assert.AreEqual(BeitClassWeighting.Balanced, skewed.ClassWeighting);
        Assert.AreEqual((1.0, 0.0), (skewed.LayerDecay, skewed.DropPath));
        var even = new BeitSegmentationOptions();
        TrainingRecipes.Segmenter(even, Report(BeitRecipe.Pretrained), new BeitConfig { NumHiddenLayers = 24 }, data, largestClassShare: 0.3);
        Assert.AreEqual(BeitClassWeighting.None, even.ClassWeighting);
        Assert.AreEqual((0.95, 0.2), (even.LayerDecay, even.DropPath));
        var forced = new BeitSegmentationOptions { ClassWeighting = BeitClassWeighting.None };
        TrainingRecipes.Segmenter(forced, Report(BeitRecipe.FromScratch), new BeitConfig { NumHiddenLayers = 3 }, data, largestClassShare: 0.85);
        Assert.AreEqual(BeitClassWeighting.None, forced.ClassWeighting);
    }

    [TestMethod]
    public void PretrainingRefusesATimeBudgetItCannotSearch()
    {
        var options = new BeitPretrainOptions { Model = BeitModelSource.FromPreset("tiny"), TrainTime = TimeSpan.FromMinutes(1) };
        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().Transforms.BeitPretrain(options));
        StringAssert.Contains(error.Message, "TrainTime");
    }

    [TestMethod]
    public void TheModelZipRecordsTheRecipeAndTheCallersOptionsStayUnset()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var train = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 64));
            var options = new BeitFinetuneOptions { Model = BeitModelSource.FromPreset("tiny"), Epochs = 1, BatchSize = 16, Seed = 3, Device = "cpu" };
            var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BeitFinetune(options)).Fit(train);
            var recipe = model.LastTransformer.TrainingRecipe!;
            Console.WriteLine(recipe);
            StringAssert.StartsWith(recipe, "recipe: from scratch, because the model starts from random weights (preset 'tiny')");
            StringAssert.Contains(recipe, "image size 28, patch 4");
            Assert.IsNull(options.LearningRate, "the recipe fills the trainer's copy, not the caller's options");
            string zip = Path.Combine(root, "model.zip");
            ml.Model.Save(model, train.Schema, zip);
            var reloaded = (TransformerChain<ITransformer>)ml.Model.Load(zip, out _);
            try
            {
                Assert.AreEqual(recipe, reloaded.OfType<BeitImageClassificationTransformer>().Single().TrainingRecipe);
            }
            finally
            {
                foreach (var t in reloaded) (t as IDisposable)?.Dispose();
            }
            model.LastTransformer.Dispose();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
