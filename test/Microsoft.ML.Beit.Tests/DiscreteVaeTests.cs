using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Pretraining;
using SkiaSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>A dVAE tokenizer trained on one's own images: training, codebook use, saving and loading, and errors.</summary>
[TestClass]
public sealed class DiscreteVaeTests
{
    // 28x28 Fashion-MNIST at its own size, downsampled 4x: a 7x7 grid of 64 tokens.
    static DiscreteVaeOptions Tiny(int epochs, IProgress<DiscreteVaeProgress>? progress = null) => new()
    {
        InputSize = 28, Downsampling = 4, HiddenChannels = 16, VocabularySize = 64, Epochs = epochs, BatchSize = 20,
        LearningRate = 3e-3, MinLearningRate = 3e-4, Device = "cpu", Seed = 7, Progress = progress,
    };

    static List<RgbImage> Fashion(int count) => FashionMnist.Load("train", count).Select((e, i) => RgbImage.Decode(e.Image, $"fashion {i}")).ToList();

    static Tensor Pixels(IReadOnlyList<RgbImage> images, int size) =>
        new BeitImageProcessor(new BeitPreprocessorConfig { ResizeHeight = size, ResizeWidth = size, DoNormalize = false }).ProcessBatch(images);

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.ne(b).sum().item<long>() == 0;

    sealed class Recorder : IProgress<DiscreteVaeProgress>
    {
        public List<DiscreteVaeProgress> Epochs { get; } = [];
        public void Report(DiscreteVaeProgress value)
        {
            Epochs.Add(value);
            Console.WriteLine(value);
        }
    }

    [TestMethod]
    public void TrainingOnFashionMnistLowersReconstructionAndUsesManyCodes()
    {
        var images = Fashion(200);
        var recorder = new Recorder();
        using var tokenizer = DiscreteVaeTrainer.Train(images, Tiny(epochs: 10, recorder));

        Assert.HasCount(10, recorder.Epochs);
        var first = recorder.Epochs[0];
        var last = recorder.Epochs[^1];
        Console.WriteLine($"reconstruction MSE {first.ReconstructionLoss:F4} -> {last.ReconstructionLoss:F4}; codes {last.CodesUsed}/64, perplexity {last.Perplexity:F1}; " +
            $"temperature {first.Temperature:F3} -> {last.Temperature:F4}; {last.Elapsed.TotalSeconds:F1}s");
        Assert.IsLessThan(0.5 * first.ReconstructionLoss, last.ReconstructionLoss, "the reconstruction loss at least halves");
        Assert.IsGreaterThanOrEqualTo(16, last.CodesUsed, "more than a handful of codes in use");
        Assert.IsGreaterThan(8.0, last.Perplexity);
        Assert.AreEqual(1.0 / 16, last.Temperature, 1e-9, "the temperature ends at 1/16");

        // What the hard tokens keep: their reconstruction beats painting every image with the mean image.
        using var scope = NewDisposeScope();
        var pixels = Pixels(images, 28);
        double hard = nn.functional.mse_loss(tokenizer.Reconstruct(pixels), pixels).item<float>();
        double meanImage = nn.functional.mse_loss(pixels.mean([0], keepdim: true).expand_as(pixels), pixels).item<float>();
        Console.WriteLine($"hard-token reconstruction MSE {hard:F4}; mean-image baseline {meanImage:F4}");
        Assert.IsLessThan(meanImage, hard);
    }

    [TestMethod]
    public void SaveAndLoadGiveTheSameTokens()
    {
        var images = Fashion(40);
        string file = Path.Combine(Path.GetTempPath(), $"dvae-{Guid.NewGuid():N}", "tokenizer.safetensors");
        try
        {
            using var trained = DiscreteVaeTrainer.Train(images, Tiny(epochs: 1));
            trained.Save(file);
            using var loaded = DiscreteVaeTokenizer.Load(file);
            using var any = VisualTokenizers.Load(file);
            Assert.IsInstanceOfType<DiscreteVaeTokenizer>(any);
            Assert.AreEqual(trained.Config, loaded.Config);
            Assert.AreEqual(7, loaded.GridSize);

            using var scope = NewDisposeScope();
            var pixels = Pixels(images, 28);
            var expected = trained.Tokenize(pixels);
            CollectionAssert.AreEqual(new long[] { 40, 49 }, expected.shape);
            Assert.IsTrue(Same(expected, loaded.Tokenize(pixels)), "DiscreteVaeTokenizer.Load gives the same tokens");
            Assert.IsTrue(Same(expected, any.Tokenize(pixels)), "VisualTokenizers.Load gives the same tokens");
            var layout = SafetensorsFile.ReadLayout(file);
            SafetensorsFile.Read(file, out var metadata).Values.ToList().ForEach(t => t.Dispose());
            Console.WriteLine($"{new FileInfo(file).Length} bytes, {layout.Count} tensors, metadata {string.Join(", ", metadata.Select(p => $"{p.Key}={p.Value}"))}; " +
                $"{expected.unique().Item1.numel()} distinct tokens, identical after reload");
            Assert.AreEqual(DiscreteVaeTokenizer.FormatName, metadata["format"]);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [TestMethod]
    public void TheSameSeedTrainsTheSameTokenizer()
    {
        var images = Fashion(40);
        using var a = DiscreteVaeTrainer.Train(images, Tiny(epochs: 1));
        using var b = DiscreteVaeTrainer.Train(images, Tiny(epochs: 1));
        var other = Tiny(epochs: 1);
        other.Seed = 8;
        using var c = DiscreteVaeTrainer.Train(images, other);
        using var scope = NewDisposeScope();
        var pixels = Pixels(images, 28);
        var (ta, tb, tc) = (a.Tokenize(pixels), b.Tokenize(pixels), c.Tokenize(pixels));
        long differentSeed = ta.ne(tc).sum().item<long>();
        Console.WriteLine($"same seed: {ta.ne(tb).sum().item<long>()} of {ta.numel()} tokens differ; another seed: {differentSeed} differ");
        Assert.IsTrue(Same(ta, tb));
        Assert.IsGreaterThan(0L, differentSeed);
    }

    [TestMethod]
    public void TrainsFromImageFilesInNestedFolders()
    {
        string root = Path.Combine(Path.GetTempPath(), $"dvae-images-{Guid.NewGuid():N}");
        try
        {
            var examples = FashionMnist.Load("train", 24);
            for (int i = 0; i < examples.Count; i++)
            {
                string folder = Path.Combine(root, $"part{i % 3}", i % 2 == 0 ? "" : "deeper");
                Directory.CreateDirectory(folder);
                File.WriteAllBytes(Path.Combine(folder, $"img{i}.{(i % 4 == 0 ? "PNG" : "png")}"), examples[i].Image);
            }
            // Larger, non-square JPEGs are resized (short side) and center-cropped.
            using (var bitmap = new SKBitmap(50, 36))
            {
                bitmap.Erase(new SKColor(200, 30, 60));
                using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
                File.WriteAllBytes(Path.Combine(root, "wide.jpg"), data.ToArray());
            }
            File.WriteAllText(Path.Combine(root, "notes.txt"), "not an image");

            var files = DiscreteVaeTrainer.FindImages(root);
            Console.WriteLine($"found {files.Count} images under {root}");
            Assert.HasCount(25, files);
            var recorder = new Recorder();
            var options = Tiny(epochs: 1, recorder);
            options.InputSize = 32;
            using var tokenizer = DiscreteVaeTrainer.Train(files, options);
            Assert.HasCount(1, recorder.Epochs);
            Assert.AreEqual(8, tokenizer.GridSize);

            string empty = Directory.CreateDirectory(Path.Combine(root, "empty")).FullName;
            var error = Assert.ThrowsExactly<InvalidDataException>(() => DiscreteVaeTrainer.FindImages(empty));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "No images");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void LoadRejectsFilesThatAreNotTokenizers()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"dvae-wrong-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string dalle = Path.Combine(folder, "dalle.safetensors");
            using (var encoder = new DalleEncoder(new DalleEncoderConfig(8, 1, 3, 16)))
                SafetensorsFile.Write(dalle, encoder.state_dict());
            var error = Assert.ThrowsExactly<InvalidDataException>(() => DiscreteVaeTokenizer.Load(dalle));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, $"{dalle} is not a dVAE tokenizer saved by DiscreteVaeTokenizer.Save");
            StringAssert.Contains(error.Message, "looks like a DALL-E encoder");

            string other = Path.Combine(folder, "other.safetensors");
            using (var weight = zeros(3, 3))
                SafetensorsFile.Write(other, [KeyValuePair.Create("classifier.weight", weight)], new Dictionary<string, string> { ["format"] = "pt" });
            error = Assert.ThrowsExactly<InvalidDataException>(() => DiscreteVaeTokenizer.Load(other));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "metadata: format");
            StringAssert.Contains(error.Message, "'classifier.weight'");
            error = Assert.ThrowsExactly<InvalidDataException>(() => VisualTokenizers.Load(other));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, $"{other} is not a visual tokenizer");

            string pickle = Path.Combine(folder, "encoder.pkl");
            File.WriteAllBytes(pickle, [0x80, 0x02, 0x63, 0x64, 0x61, 0x6c, 0x6c, 0x5f, 0x65, 0x0a, 0x2e]);
            error = Assert.ThrowsExactly<InvalidDataException>(() => VisualTokenizers.Load(pickle));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, $"{pickle} is not a safetensors file");
            StringAssert.Contains(error.Message, "convert OpenAI's encoder.pkl");

            // A tokenizer whose config no longer matches its weights names the mismatched keys.
            string mismatched = Path.Combine(folder, "mismatched.safetensors");
            using (var model = new BeitDiscreteVae(new DiscreteVaeConfig { InputSize = 16, Downsampling = 4, HiddenChannels = 8, VocabularySize = 16 }))
                SafetensorsFile.Write(mismatched, model.state_dict(), new Dictionary<string, string>
                {
                    ["format"] = DiscreteVaeTokenizer.FormatName, ["format_version"] = DiscreteVaeTokenizer.FormatVersion,
                    ["config"] = new DiscreteVaeConfig { InputSize = 16, Downsampling = 4, HiddenChannels = 8, VocabularySize = 32 }.ToJson(),
                });
            var mismatch = Assert.ThrowsExactly<BeitCheckpointMismatchException>(() => DiscreteVaeTokenizer.Load(mismatched));
            Console.WriteLine(mismatch.Message);
            CollectionAssert.Contains(mismatch.MisshapedKeys.Select(k => k.Split(':')[0]).ToList(), "encoder.blocks.output.conv.w");

            Assert.ThrowsExactly<FileNotFoundException>(() => VisualTokenizers.Load(Path.Combine(folder, "absent.safetensors")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [DataRow(2, 8)]
    [DataRow(4, 16)]
    [DataRow(8, 32)]
    public void RelaxedPassKeepsTheImageShape(int downsampling, int size)
    {
        manual_seed(1);
        using var model = new BeitDiscreteVae(new DiscreteVaeConfig { InputSize = size, Downsampling = downsampling, HiddenChannels = 8, VocabularySize = 12 });
        using var scope = NewDisposeScope();
        var pixels = rand(2, 3, size, size);
        using var pass = model.Relaxed(pixels, temperature: 0.5);
        Console.WriteLine($"downsampling {downsampling}: logits [{string.Join(",", pass.Logits.shape)}], reconstruction [{string.Join(",", pass.Reconstruction.shape)}], " +
            $"range [{pass.Reconstruction.min().item<float>():F3}, {pass.Reconstruction.max().item<float>():F3}]");
        CollectionAssert.AreEqual(new long[] { 2, 12, size / downsampling, size / downsampling }, pass.Logits.shape);
        CollectionAssert.AreEqual(pixels.shape, pass.Reconstruction.shape);
        Assert.IsTrue(pass.Reconstruction.ge(0).all().item<bool>() && pass.Reconstruction.le(1).all().item<bool>());
        CollectionAssert.AreEqual(pixels.shape, model.DecodeTokens(model.Tokens(pixels)).shape);
    }

    [TestMethod]
    [DataRow("Downsampling", 6, "downsampling is 6; it must be a power of two")]
    [DataRow("InputSize", 30, "input size 30 is not a positive multiple of the downsampling 8")]
    [DataRow("HiddenChannels", 10, "n_hid (HiddenChannels) is 10")]
    [DataRow("VocabularySize", 1, "vocab_size (VocabularySize) is 1")]
    [DataRow("Epochs", 0, "Epochs is 0; it must be at least 1")]
    public void OptionsOutOfRangeAreRejected(string option, int value, string message)
    {
        var options = new DiscreteVaeOptions();
        typeof(DiscreteVaeOptions).GetProperty(option)!.SetValue(options, value);
        var error = Assert.Throws<ArgumentException>(() => DiscreteVaeTrainer.Train(Array.Empty<RgbImage>(), options));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, message);
    }
}
