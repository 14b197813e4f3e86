using System.Reflection;
using Microsoft.ML.Beit.Pretraining;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Every option with a rule refuses a value that breaks it, naming the option (the exception's ParamName), before any
/// training happens. The value is set by name so each case is one line; the fit runs inside the assertion, so a rule
/// checked when the trainer is built or when it starts fitting both count, and a rule nobody checks fails the case.
/// </summary>
[TestClass]
public sealed class OptionValidationTests
{
    static readonly IDataView Images = new MLContext(seed: 1).Data.LoadFromEnumerable(FashionMnist.Load("train", 8));

    static void Set(object options, string property, object? value)
    {
        var info = options.GetType().GetProperty(property, BindingFlags.Public | BindingFlags.Instance)
            ?? throw new AssertFailedException($"{options.GetType().Name} has no property {property}");
        var type = Nullable.GetUnderlyingType(info.PropertyType) ?? info.PropertyType;
        info.SetValue(options, value is null || type.IsInstanceOfType(value) ? value : Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture));
    }

    static void AssertRefused(string property, object? value, Action fit)
    {
        var error = Assert.Throws<ArgumentException>(fit, $"{property} = {value ?? "null"} was accepted");
        Console.WriteLine($"{property} = {value ?? "null"}: {error.GetType().Name}: {error.Message.Split('\n')[0]}");
        Assert.AreEqual(property, error.ParamName, $"the error names the option: {error.Message}");
    }

    [TestMethod]
    [DataRow(nameof(BeitFinetuneOptions.Epochs), 0)]
    [DataRow(nameof(BeitFinetuneOptions.BatchSize), 0)]
    [DataRow(nameof(BeitFinetuneOptions.AccumulationSteps), 0)]
    [DataRow(nameof(BeitFinetuneOptions.LearningRate), 0.0)]
    [DataRow(nameof(BeitFinetuneOptions.MinLearningRate), -1e-6)]
    [DataRow(nameof(BeitFinetuneOptions.WarmupEpochs), -1.0)]
    [DataRow(nameof(BeitFinetuneOptions.WeightDecay), -0.1)]
    [DataRow(nameof(BeitFinetuneOptions.Epsilon), 0.0)]
    [DataRow(nameof(BeitFinetuneOptions.LayerDecay), 0.0)]
    [DataRow(nameof(BeitFinetuneOptions.LayerDecay), 1.5)]
    [DataRow(nameof(BeitFinetuneOptions.DropPath), 1.0)]
    [DataRow(nameof(BeitFinetuneOptions.ClipGradient), 0.0)]
    [DataRow(nameof(BeitFinetuneOptions.CheckpointEverySteps), 0)]
    [DataRow(nameof(BeitFinetuneOptions.EarlyStoppingPatience), 0)]
    [DataRow(nameof(BeitFinetuneOptions.LabelSmoothing), 1.0)]
    [DataRow(nameof(BeitFinetuneOptions.HeadInitScale), 0.0)]
    [DataRow(nameof(BeitFinetuneOptions.MinCropScale), 0.0)]
    [DataRow(nameof(BeitFinetuneOptions.RandAugmentLayers), -1)]
    [DataRow(nameof(BeitFinetuneOptions.RandAugmentMagnitude), 11.0)]
    [DataRow(nameof(BeitFinetuneOptions.RandomErasing), 1.5)]
    [DataRow(nameof(BeitFinetuneOptions.MixupAlpha), -1.0)]
    [DataRow(nameof(BeitFinetuneOptions.MixupSwitchProbability), 1.5)]
    [DataRow(nameof(BeitFinetuneOptions.ImageSize), 0)]
    [DataRow(nameof(BeitFinetuneOptions.Backend), (BeitBackend)42)]
    [DataRow(nameof(BeitFinetuneOptions.Model), null)]
    public void FinetuneOptionsRefuseValuesOutsideTheirRange(string property, object? value)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Images).Transform(Images);
        var options = FinetuneTests.TinyRecipe(epochs: 1);
        Set(options, property, value);
        AssertRefused(property, value, () => ml.MulticlassClassification.Trainers.BeitFinetune(options).Fit(data));
    }

    [TestMethod]
    [DataRow(nameof(BeitPretrainOptions.Epochs), 0)]
    [DataRow(nameof(BeitPretrainOptions.LearningRate), -1.0)]
    [DataRow(nameof(BeitPretrainOptions.MaskedPatches), 0)]
    [DataRow(nameof(BeitPretrainOptions.MinPatchesPerBlock), 0)]
    [DataRow(nameof(BeitPretrainOptions.LayerScaleInitValue), -0.1)]
    [DataRow(nameof(BeitPretrainOptions.MinCropScale), 0.0)]
    [DataRow(nameof(BeitPretrainOptions.HorizontalFlip), 1.5)]
    [DataRow(nameof(BeitPretrainOptions.FeaturizerBatchSize), 0)]
    [DataRow(nameof(BeitPretrainOptions.Tokenizer), null)]
    [DataRow(nameof(BeitPretrainOptions.Model), null)]
    public void PretrainOptionsRefuseValuesOutsideTheirRange(string property, object? value)
    {
        var ml = new MLContext(seed: 1);
        var options = new BeitPretrainOptions
        {
            Model = BeitModelSource.FromConfig(FinetuneTests.FashionArchitecture()),
            Tokenizer = new GridTokenizer(),
            Epochs = 1,
            BatchSize = 4,
            Seed = 1,
        };
        Set(options, property, value);
        AssertRefused(property, value, () => ml.Transforms.BeitPretrain(options).Fit(Images));
    }

    [TestMethod]
    [DataRow(nameof(BeitSegmentationOptions.Epochs), 0)]
    [DataRow(nameof(BeitSegmentationOptions.BatchSize), 1)]
    [DataRow(nameof(BeitSegmentationOptions.IgnoreIndex), 256)]
    [DataRow(nameof(BeitSegmentationOptions.CropSize), 0)]
    [DataRow(nameof(BeitSegmentationOptions.HorizontalFlip), -0.5)]
    [DataRow(nameof(BeitSegmentationOptions.LabelSmoothing), 1.0)]
    [DataRow(nameof(BeitSegmentationOptions.ClassNames), "one class")]
    [DataRow(nameof(BeitSegmentationOptions.OutIndices), "three layers")]
    [DataRow(nameof(BeitSegmentationOptions.Backend), (BeitBackend)42)]
    [DataRow(nameof(BeitSegmentationOptions.Model), null)]
    public void SegmentationOptionsRefuseValuesOutsideTheirRange(string property, object? value)
    {
        var ml = new MLContext(seed: 1);
        var options = new BeitSegmentationOptions
        {
            Model = BeitModelSource.FromConfig(TinyModels.SegmentationConfig()),
            ClassNames = ["a", "b", "c"],
            Epochs = 1,
            BatchSize = 2,
            Seed = 1,
        };
        object? setting = value switch
        {
            "one class" => new[] { "a" },
            "three layers" => new[] { 0, 1, 2 },
            _ => value,
        };
        Set(options, property, setting);
        AssertRefused(property, value, () => ml.SemanticSegmentation().Trainers.Beit(options).Fit(Images));
    }

    [TestMethod]
    public void TheStartingOptionsOfEachCaseAreThemselvesAccepted()
    {
        // Each case above changes one option of these; were they refused already, every case would pass for the wrong reason.
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Images).Transform(Images);
        using (ml.MulticlassClassification.Trainers.BeitFinetune(FinetuneTests.TinyRecipe(epochs: 1)).Fit(data)) { }
        _ = ml.Transforms.BeitPretrain(new BeitPretrainOptions
        {
            Model = BeitModelSource.FromConfig(FinetuneTests.FashionArchitecture()), Tokenizer = new GridTokenizer(), Epochs = 1, BatchSize = 4, Seed = 1,
        });
        _ = ml.SemanticSegmentation().Trainers.Beit(new BeitSegmentationOptions
        {
            Model = BeitModelSource.FromConfig(TinyModels.SegmentationConfig()), ClassNames = ["a", "b", "c"], Epochs = 1, BatchSize = 2, Seed = 1,
        });
    }

    /// <summary>A weightless tokenizer for the 28x28 test architecture (4x4 patches of 7 pixels): token 0 everywhere.</summary>
    internal sealed class GridTokenizer : IBeitVisualTokenizer
    {
        public int VocabularySize => 2;
        public int InputSize => 28;
        public int GridSize => 4;

        public TorchSharp.torch.Tensor Tokenize(TorchSharp.torch.Tensor pixels) =>
            TorchSharp.torch.zeros([pixels.shape[0], 16], TorchSharp.torch.ScalarType.Int64);

        public void MoveTo(TorchSharp.torch.Device device) { }

        public void Dispose() { }
    }
}
