using TorchSharp;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Pretraining;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Masked image modeling as a user runs it: a short pretraining run on Fashion-MNIST lowers the loss and predicts masked
/// tokens better than chance, the backbone zip starts BeitFinetune and BeitFeaturize, and an interrupted run resumes.
/// </summary>
[TestClass]
public sealed class PretrainingTests
{
    /// <summary>
    /// A test tokenizer with no weights: each 4x4 block's mean brightness quantised to 8 levels. Its tokens are
    /// predictable from the surrounding patches, which is all a MIM test needs.
    /// </summary>
    sealed class BrightnessTokenizer : IBeitVisualTokenizer
    {
        public int VocabularySize => 8;
        public int InputSize => 28;
        public int GridSize => 7;

        public Tensor Tokenize(Tensor pixels)
        {
            using var scope = NewDisposeScope();
            // Scalars held for the whole call (see ScalarOps: temporaries can be finalized mid-call).
            using var scale = 7.999.ToScalar();
            using var low = 0.ToScalar();
            using var high = 7.ToScalar();
            var blocks = nn.functional.avg_pool2d(pixels.mean([1], keepdim: true), 4);
            return blocks.mul(scale).floor().clamp(low, high).to(ScalarType.Int64).flatten(1).MoveToOuterDisposeScope();
        }

        public void MoveTo(Device device) { }

        public void Dispose() { }
    }

    static BeitPretrainOptions Recipe(int epochs) => new()
    {
        Model = BeitModelSource.FromConfig(new BeitConfig
        {
            ImageSize = 28, PatchSize = 4, HiddenSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 96, LayerNormEps = 1e-6,
        }),
        Tokenizer = new BrightnessTokenizer(),
        Epochs = epochs,
        BatchSize = 32,
        LearningRate = 3e-3,
        WarmupEpochs = 1,
        DropPath = 0,
        MinCropScale = 1.0,
        // Small masked blocks keep visible neighbours around most masked patches, so a short run can learn from context.
        MaskedPatches = 12,
        MinPatchesPerBlock = 2,
        Seed = 3,
    };

    sealed class Recorder : IProgress<BeitTrainingProgress>
    {
        public List<BeitTrainingProgress> Steps { get; } = [];

        public void Report(BeitTrainingProgress value)
        {
            if (!double.IsNaN(value.Loss)) Steps.Add(value);
        }
    }

    [TestMethod]
    public void PretrainingLearnsMaskedTokensAndTheBackboneStartsFineTuning()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var images = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 320));
            const int epochs = 30;
            var options = Recipe(epochs);
            var recorder = new Recorder();
            options.Progress = recorder;
            options.HuggingFaceOutputDirectory = Path.Combine(folder, "hf");
            using var backbone = ml.Transforms.BeitPretrain(options).Fit(images);

            var first = recorder.Steps.Where(s => s.Epoch == 1).ToList();
            var last = recorder.Steps.Where(s => s.Epoch == epochs).ToList();
            double firstLoss = first.Average(s => s.Loss), lastLoss = last.Average(s => s.Loss);
            double lastAccuracy = last.Average(s => s.TrainingMetric!.Value);
            // Chance: always predicting the token most common at masked positions (blocks cover the centre, where the items are, more often).
            using var tokenizer = new BrightnessTokenizer();
            double majority = MajorityMaskedTokenShare(tokenizer, FashionMnist.Load("train", 320));
            Console.WriteLine($"MIM loss {firstLoss:F3} (epoch 1) -> {lastLoss:F3} (epoch {epochs}); masked-token accuracy {lastAccuracy:F3}; the commonest masked token's share {majority:F3}");
            Assert.IsLessThan(firstLoss * 0.85, lastLoss);
            Assert.IsGreaterThan(majority + 0.05, lastAccuracy);

            // The backbone zip starts fine-tuning and featurization; the Hugging Face folder holds a MIM checkpoint.
            string zip = Path.Combine(folder, "backbone.zip");
            ml.Model.Save(backbone, images.Schema, zip);
            Assert.IsTrue(File.Exists(Path.Combine(folder, "hf", "model.safetensors")));
            using (var hf = Checkpoints.BeitCheckpoint.Load(Path.Combine(folder, "hf")))
                Assert.AreEqual(Checkpoints.BeitArchitecture.MaskedImageModeling, hf.Architecture);

            var labelled = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 64)));
            var train = labelled.Transform(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 64)));
            // A learning rate too small to move the weights: the classifier's encoder must be the pretrained one.
            using var classifier = ml.MulticlassClassification.Trainers.BeitFinetune(new BeitFinetuneOptions
            {
                Model = BeitModelSource.FromPath(zip), Epochs = 1, BatchSize = 32, LearningRate = 1e-12, MinLearningRate = 0, LayerDecay = 1, DropPath = 0,
                Augment = false, WarmupEpochs = 0, Seed = 1,
            }).Fit(train);
            string classifierZip = Path.Combine(folder, "classifier.zip");
            ml.Model.Save(classifier, train.Schema, classifierZip);
            var (backboneDiff, compared) = Backbones.Difference(zip, classifierZip);
            var (randomDiff, _) = Backbones.Difference(Path.Combine(folder, "hf"), SaveRandomStart(folder));
            Console.WriteLine($"fine-tuned from the pretrained backbone: {classifier.LabelNames.Count} classes, {classifier.ModelConfig.NumHiddenLayers} blocks; " +
                $"{compared} encoder tensors differ from the backbone's by at most {backboneDiff:E2} (a random start differs by {randomDiff:E2})");
            Assert.IsGreaterThanOrEqualTo(2 * 12, compared, "the encoder's tensors were compared");
            Assert.IsLessThanOrEqualTo(1e-6, backboneDiff, "fine-tuning started from the pretrained backbone's weights");

            using var featurizer = ml.Transforms.BeitFeaturize("F", "Image", new BeitFeaturizerOptions { Model = BeitModelSource.FromPath(zip) }).Fit(images);
            var features = ml.Data.CreateEnumerable<FeatureRow>(featurizer.Transform(images), false).Take(2).ToList();
            Console.WriteLine($"features from the backbone zip: {features[0].F.Length} values");
            Assert.AreEqual(48, features[0].F.Length);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // The same architecture, randomly initialised and saved: how far a start that ignored the backbone would be.
    static string SaveRandomStart(string folder)
    {
        string directory = Path.Combine(folder, "random");
        var config = Recipe(1).Model!.RandomArchitecture();
        using var model = new BeitForMaskedImageModeling(config);
        Checkpoints.BeitCheckpoint.Save(model, directory);
        return directory;
    }

    /// <summary>A features row.</summary>
    public sealed class FeatureRow
    {
        /// <summary>The features.</summary>
        public float[] F { get; set; } = [];
    }

    [TestMethod]
    public void AnInterruptedPretrainingRunResumesToTheSameModel()
    {
        string folder = TinyModels.TempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var images = ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 96));
            BeitPretrainOptions Options(string checkpoints)
            {
                var o = Recipe(epochs: 2);
                o.CheckpointDirectory = checkpoints;
                o.CheckpointEverySteps = 2;
                o.DropPath = 0.1;
                return o;
            }
            float[] Features(ITransformer model) => ml.Data.CreateEnumerable<FeatureRow>(model.Transform(images), false, true)
                .Take(8).SelectMany(r => r.F).ToArray();

            // 96 images in batches of 32: 3 steps an epoch, 6 in all.
            const int totalSteps = 6, stopAt = 5;
            var full = new TrainingSteps();
            var a = Options(Path.Combine(folder, "a"));
            a.OutputColumnName = "F";
            a.Progress = full;
            using var uninterrupted = ml.Transforms.BeitPretrain(a).Fit(images);
            var expected = Features(uninterrupted);
            CollectionAssert.AreEqual(TrainingSteps.Range(1, totalSteps), full.Steps, "the uninterrupted run takes steps 1..6");

            string checkpoints = Path.Combine(folder, "b");
            using var cancel = new CancellationTokenSource();
            var interrupted = Options(checkpoints);
            interrupted.CancellationToken = cancel.Token;
            var before = new TrainingSteps(cancel, stopAt);
            interrupted.Progress = before;
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Transforms.BeitPretrain(interrupted).Fit(images));
            CollectionAssert.AreEqual(TrainingSteps.Range(1, stopAt), before.Steps, "the interrupted run stops after the step that cancelled it");
            // Checkpoints every 2 steps: the newest (step 4) is behind the interruption (step 5), which the resumed run must redo.
            int checkpoint = TrainingSteps.LatestCheckpointStep(checkpoints);
            Assert.IsTrue(checkpoint is > 0 and < stopAt, $"the latest checkpoint (step {checkpoint}) lies inside the interrupted run");

            var resumed = Options(checkpoints);
            resumed.ResumeFrom = checkpoints;
            resumed.OutputColumnName = "F";
            var after = new TrainingSteps();
            resumed.Progress = after;
            using var finished = ml.Transforms.BeitPretrain(resumed).Fit(images);
            Console.WriteLine($"interrupted after step {stopAt}, latest checkpoint at step {checkpoint}; the resumed run took steps {string.Join(",", after.Steps)}");
            CollectionAssert.AreEqual(TrainingSteps.Range(checkpoint + 1, totalSteps), after.Steps,
                $"the resumed run starts at the checkpoint's step + 1 ({checkpoint + 1}) and takes exactly the remaining steps");
            double diff = TrainingSteps.MaxAbsDiff(expected, Features(finished));
            Console.WriteLine($"resumed vs uninterrupted pretraining: max abs feature difference {diff:E2}");
            Assert.IsLessThanOrEqualTo(1e-5, diff);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ATokenizerWhoseGridDoesNotFitTheModelIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var options = Recipe(epochs: 1);
        options.Model = BeitModelSource.FromConfig(new BeitConfig { ImageSize = 28, PatchSize = 7, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64 });
        var error = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.BeitPretrain(options).Fit(ml.Data.LoadFromEnumerable(FashionMnist.Load("train", 8))));
        Console.WriteLine(error.Message);
        StringAssert.Contains(error.Message, "7x7 token grid but the model has 4x4 patches");
    }

    static double MajorityMaskedTokenShare(IBeitVisualTokenizer tokenizer, List<FashionMnist.Example> examples)
    {
        var counts = new long[tokenizer.VocabularySize];
        var masking = new BlockwiseMaskingGenerator(7, 7, 12, 2);
        var random = new Random(11);
        foreach (var example in examples)
        {
            var image = Preprocessing.RgbImage.Decode(example.Image, "test image");
            var values = new float[3 * 28 * 28];
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 28 * 28; p++) values[c * 784 + p] = image.Pixels[p * 3 + c] / 255f;
            using var tokens = tokenizer.Tokenize(tensor(values, [1, 3, 28, 28]));
            var ids = tokens.data<long>().ToArray();
            for (int draw = 0; draw < 4; draw++)
            {
                var mask = masking.Next(random);
                for (int p = 0; p < ids.Length; p++)
                    if (mask[p]) counts[ids[p]]++;
            }
        }
        return (double)counts.Max() / counts.Sum();
    }
}
