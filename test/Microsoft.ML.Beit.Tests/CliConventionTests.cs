using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.VisualBasic.FileIO;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// The `beit` tool's conventions, run as a user runs it: exit code 2 for a usage error and 1 for a failure, each on one
/// line naming the flag or file; choices listed when one is wrong; --verbose for the stack trace; CSV quoted as RFC 4180;
/// renamed flags still read under their old spellings but not shown; hints that repeat the command the tool was started with.
/// </summary>
[TestClass]
public sealed class CliConventionTests
{
    [TestMethod]
    [DataRow("featurize --images photos", "Option '--model' is required")]
    [DataRow("finetune --data photos --model tiny --epochs abc", "--epochs 'abc' is not a whole number")]
    [DataRow("finetune --data photos --model tiny --epochs 0", "--epochs must be at least 1, not 0")]
    [DataRow("featurize --model m --images photos --bogus", "'--bogus'")]
    [DataRow("segment", "Required command was not provided")]
    public void AUsageErrorExitsWithTwoOnOneLineThatNamesTheFlag(string arguments, string expected)
    {
        var (code, output, error) = BeitToolTests.Beit(arguments.Split(' '));
        Console.WriteLine($"beit {arguments}: exit code {code}: {error.Trim()}");
        Assert.AreEqual(2, code, error);
        AssertOneErrorLine(error);
        StringAssert.Contains(error, expected);
        Assert.AreEqual("", output, "a usage error prints no help: the line says where to find it");
    }

    [TestMethod]
    [DataRow("featurize --model m --images photos --pooling max", "--pooling 'max' is not valid: use one of mean, cls, tokens, cls-attention.")]
    [DataRow("featurize --model m --images photos --backend tensorrt", "--backend 'tensorrt' is not valid: use one of torch-sharp, onnx.")]
    [DataRow("featurize --model m --images photos --invalid-image ignore", "--invalid-image 'ignore' is not valid: use one of throw, skip.")]
    [DataRow("featurize --model m --images photos --device gpu", "--device 'gpu' is not a device: use one of auto, cpu, cuda, cuda:N.")]
    [DataRow("finetune --data photos --model tiny --recipe fast", "--recipe 'fast' is not valid: use one of auto, from-scratch, pretrained, continue-training.")]
    [DataRow("segment train --data photos --model tiny --class-weighting inverse", "--class-weighting 'inverse' is not valid: use one of none, balanced.")]
    [DataRow("export-onnx --model m --pooling max", "--pooling 'max' is not valid: use one of mean, cls, tokens, cls-attention.")]
    [DataRow("demo --output d --preset huge", "--preset 'huge' is not valid: use one of tiny, base, large.")]
    [DataRow("info m --preset huge", "--preset 'huge' is not valid: use one of tiny, base, large.")]
    [DataRow("tokenizer train --data photos --device tpu", "--device 'tpu' is not a device: use one of auto, cpu, cuda, cuda:N.")]
    public void AChoiceOutsideItsValuesIsRefusedWhileParsingWithTheValuesAllowed(string arguments, string expected)
    {
        var (code, _, error) = BeitToolTests.Beit(arguments.Split(' '));
        Console.WriteLine($"beit {arguments}: exit code {code}: {error.Trim()}");
        Assert.AreEqual(2, code, error);
        AssertOneErrorLine(error);
        StringAssert.Contains(error, expected);
    }

    [TestMethod]
    public void AFailureWhileRunningExitsWithOneAndVerboseAddsTheStackTrace()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"beit-missing-{Guid.NewGuid():N}");
        var (code, _, error) = BeitToolTests.Beit("info", missing);
        Console.WriteLine(error);
        Assert.AreEqual(1, code, error);
        AssertOneErrorLine(error);
        StringAssert.Contains(error, $"No checkpoint at '{missing}'");

        // --verbose is global: after the verb or before it.
        foreach (var arguments in new[] { new[] { "info", missing, "--verbose" }, ["--verbose", "info", missing] })
        {
            (code, _, error) = BeitToolTests.Beit(arguments);
            Console.WriteLine($"beit {string.Join(' ', arguments)}:\n{error}");
            Assert.AreEqual(1, code, error);
            var lines = error.TrimEnd().Split('\n');
            StringAssert.StartsWith(lines[0], $"error: No checkpoint at '{missing}'", "the same one-line error comes first");
            Assert.IsTrue(lines.Any(l => l.TrimStart().StartsWith("at Microsoft.ML.Beit.Checkpoints.BeitCheckpoint.Load(", StringComparison.Ordinal)),
                "the stack trace names where it failed");
        }
    }

    [TestMethod]
    public void FeaturizeQuotesAPathWithACommaAndAQuote()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            string model = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            string images = Path.Combine(folder, "images");
            Directory.CreateDirectory(images);
            string plain = FeaturizerTests.WriteRandomImages(images, count: 1, width: 32, height: 32)[0];
            string odd = Path.Combine(images, "a \"quoted\", name.png");
            File.Copy(plain, odd);
            string csv = Path.Combine(folder, "features.csv");
            var (code, _, error) = BeitToolTests.Beit("featurize", "--model", model, "--images", images, "--output", csv, "--device", "cpu");
            Assert.AreEqual(0, code, error);

            string text = File.ReadAllText(csv);
            Console.WriteLine(text[..Math.Min(text.Length, 400)]);
            StringAssert.Contains(text, "\"" + odd.Replace("\"", "\"\"") + "\",", "the field is quoted and its quotes doubled");
            var rows = ReadCsv(csv);
            Assert.HasCount(3, rows, "a header and one row per image");
            Assert.IsTrue(rows.All(r => r.Length == rows[0].Length), "every row has the header's number of fields");
            CollectionAssert.AreEquivalent(new[] { plain, odd }, rows.Skip(1).Select(r => r[0]).ToArray(), "the paths read back as they are");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void OldSpellingsStillReadButHelpShowsOnlyTheCurrentNames()
    {
        var renamed = new (string Verb, string[] Old)[]
        {
            ("featurize", ["--normalize", "--skip-invalid", "--config"]),
            ("forward", ["--config"]),
            ("info", ["--config"]),
            ("export-onnx", ["--normalize", "--mask-input", "--upsampled-logits", "--last-hidden-state", "--config"]),
            ("finetune", ["--lr", "--checkpoints", "--resume"]),
            ("segment train", ["--lr", "--checkpoints", "--resume"]),
            ("pretrain", ["--lr", "--checkpoints", "--resume", "--hf-output"]),
            ("quickstart", ["--lr"]),
            ("tokenizer train", ["--lr", "--vocab", "--hidden"]),
            ("segment canvases", ["--size", "--training", "--validation"]),
            ("preprocess", ["--config"]),
        };
        foreach (var (verb, old) in renamed)
        {
            var (code, help, error) = BeitToolTests.Beit([.. verb.Split(' '), "--help"]);
            Assert.AreEqual(0, code, error);
            foreach (string name in old)
                Assert.IsFalse(Regex.IsMatch(help, $@"(?<![\w-]){Regex.Escape(name)}(?![\w-])"), $"beit {verb} --help shows the old spelling {name}");
        }

        // They parse: these fail while running (the data is not there), not as usage errors.
        string nowhere = Path.Combine(Path.GetTempPath(), $"beit-missing-{Guid.NewGuid():N}");
        foreach (var arguments in new[]
                 {
                     $"finetune --data {nowhere} --model tiny --lr 0.1 --checkpoints {nowhere} --resume={nowhere}",
                     $"featurize --model {nowhere} --images {nowhere} --normalize --skip-invalid --config {nowhere}",
                     $"export-onnx --model {nowhere} --normalize --mask-input --upsampled-logits --last-hidden-state --config {nowhere}",
                     $"tokenizer train --data {nowhere} --vocab 32 --hidden 8 --lr 0.01",
                     $"preprocess --image {nowhere} --config {nowhere} --output {nowhere}",
                 })
        {
            var (code, _, error) = BeitToolTests.Beit(arguments.Split(' '));
            Console.WriteLine($"beit {arguments}: exit code {code}: {error.Trim()}");
            Assert.AreEqual(1, code, error);
        }

        // And they set the flag they were renamed to.
        string folder = TinyModels.TempDirectory();
        try
        {
            var (code, output, error) = BeitToolTests.Beit("segment", "canvases", "--data", FashionMnist.Directory, "--output", Path.Combine(folder, "canvases"),
                "--size", "16", "--training", "3", "--validation", "2", "--classes", "1,8");
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "3 training and 2 validation canvases of 16x16");

            string model = FeaturizerTests.SaveTinyMaskedImageModel(folder);
            string images = Path.Combine(folder, "images");
            Directory.CreateDirectory(images);
            FeaturizerTests.WriteRandomImages(images, count: 2, width: 32, height: 32);
            string csv = Path.Combine(folder, "features.csv");
            (code, _, error) = BeitToolTests.Beit("featurize", "--model", model, "--images", images, "--output", csv, "--normalize", "--device", "cpu");
            Assert.AreEqual(0, code, error);
            foreach (var row in ReadCsv(csv).Skip(1))
            {
                double norm = Math.Sqrt(row.Skip(1).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).Sum(v => v * v));
                Console.WriteLine($"--normalize: {Path.GetFileName(row[0])} has norm {norm:F6}");
                Assert.AreEqual(1.0, norm, 1e-4, "--normalize is --normalize-l2");
            }

            // A value the library refuses is reported under the current name of the flag given by its old one.
            (code, _, error) = BeitToolTests.Beit("quickstart", "--output", Path.Combine(folder, "quickstart"), "--train-images", "20", "--test-images", "10",
                "--lr", "-1");
            Console.WriteLine(error);
            Assert.AreEqual(2, code, error);
            AssertOneErrorLine(error);
            StringAssert.Contains(error, "--learning-rate must be positive, not -1.");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void HintsRepeatTheCommandTheToolWasStartedWith()
    {
        // dotnet beit.dll: the hint runs the same assembly the same way.
        var (code, _, error) = BeitToolTests.Beit("featurize");
        Assert.AreEqual(2, code, error);
        StringAssert.Contains(error, $"See 'dotnet {Typed(BeitToolTests.ToolPath())} featurize --help'.");

        // The executable beside it (the installed tool's form): no dotnet in front.
        string executable = Path.ChangeExtension(BeitToolTests.ToolPath(), OperatingSystem.IsWindows() ? ".exe" : null);
        if (!File.Exists(executable))
        {
            Console.WriteLine($"no executable at {executable}; only the dotnet form is checked");
            return;
        }
        (code, _, error) = Processes.Run(executable, ["segment", "train", "--data", "x"], TimeSpan.FromMinutes(2));
        Console.WriteLine(error);
        Assert.AreEqual(2, code, error);
        StringAssert.Contains(error, $"See '{Typed(executable)} segment train --help'.");
    }

    /// <summary>Paths in hints are quoted when they hold a space, so that they can be pasted.</summary>
    internal static string Typed(string path) => path.Contains(' ') ? $"\"{path}\"" : path;

    static void AssertOneErrorLine(string error)
    {
        string text = error.TrimEnd('\r', '\n');
        StringAssert.StartsWith(text, "error: ");
        Assert.IsFalse(text.Contains('\n'), $"one line, not:\n{error}");
    }

    /// <summary>Reads a CSV with .NET's own RFC 4180 parser, not the tool's.</summary>
    static List<string[]> ReadCsv(string path)
    {
        using var parser = new TextFieldParser(path) { HasFieldsEnclosedInQuotes = true, TrimWhiteSpace = false };
        parser.SetDelimiters(",");
        var rows = new List<string[]>();
        while (!parser.EndOfData) rows.Add(parser.ReadFields()!);
        return rows;
    }
}
