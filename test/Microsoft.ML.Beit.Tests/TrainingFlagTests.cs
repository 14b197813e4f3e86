using System.Reflection;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Every option of the training, featurizer, ONNX export and tokenizer options has a flag of the same name, in kebab case, on its verb.</summary>
[TestClass]
public sealed partial class TrainingFlagTests
{
    [GeneratedRegex("(?<=[a-z0-9])([A-Z])")]
    private static partial Regex WordStart();

    static string Flag(string property) => "--" + WordStart().Replace(property, "-$1").ToLowerInvariant();

    // The options a verb sets itself (data, columns, the model, progress) or that need a C# object, not a flag.
    static readonly HashSet<string> NotFlags =
    [
        "Model", "ValidationSet", "Progress", "CancellationToken", "ReturnModelWhenCancelled", "Betas", "Epsilon", "NonFiniteLoss",
        "CheckpointEverySteps", "LabelColumnName", "ImageColumnName", "ScoreColumnName", "PredictedLabelColumnName", "Preprocessor",
        "InvalidImage", "Backend", "OnnxQuantization", "MixupSwitchProbability", "ClassNames", "PredictedMaskColumnName", "IgnoreIndex", "ScaleRange",
        "OutIndices", "Tokenizer", "OutputColumnName", "MinPatchesPerBlock", "FeaturizerBatchSize",
        "TrainTime", "ValidationSetFraction",
    ];

    [TestMethod]
    [DataRow(typeof(BeitFinetuneOptions), "finetune")]
    [DataRow(typeof(BeitSegmentationOptions), "segment train")]
    [DataRow(typeof(BeitPretrainOptions), "pretrain")]
    [DataRow(typeof(BeitFeaturizerOptions), "featurize")]
    [DataRow(typeof(Onnx.BeitOnnxExportOptions), "export-onnx")]
    [DataRow(typeof(Pretraining.DiscreteVaeOptions), "tokenizer train")]
    public void EveryOptionHasAFlagOfItsName(Type options, string verb)
    {
        var (code, help, error) = BeitToolTests.Beit([.. verb.Split(' '), "--help"]);
        Assert.AreEqual(0, code, error);
        var missing = options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && !NotFlags.Contains(p.Name))
            .Select(p => Flag(p.Name))
            .Where(flag => !Regex.IsMatch(help, $@"(^|[\s,]){Regex.Escape(flag)}[\s,<]", RegexOptions.Multiline))
            .ToList();
        Console.WriteLine($"{verb}: {options.GetProperties().Length} options; without a flag: {string.Join(", ", missing)}");
        Assert.IsEmpty(missing, $"beit {verb} lacks flags for: {string.Join(", ", missing)}");
    }

    [TestMethod]
    public void TheTimeBudgetIsAFlagOfTheVerbsThatSearch()
    {
        foreach (var verb in new[] { "finetune", "segment train" })
        {
            var (_, help, _) = BeitToolTests.Beit([.. verb.Split(' '), "--help"]);
            StringAssert.Contains(help, "--train-time");
            StringAssert.Contains(help, "--validation-set-fraction");
        }
        var (_, pretrain, _) = BeitToolTests.Beit("pretrain", "--help");
        Assert.IsFalse(pretrain.Contains("--train-time"), "pretraining has no validation metric to search by");
    }
}
