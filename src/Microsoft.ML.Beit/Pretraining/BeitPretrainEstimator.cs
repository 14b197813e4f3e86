using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Featurization;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Pretraining;
using Microsoft.ML.Beit.Recipes;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Beit.Training;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit;

/// <summary>
/// BEiT pretraining by masked image modeling (see <see cref="BeitPretrainOptions"/>): for each unlabeled image, a patch view
/// with blockwise-masked patches replaced by the mask token, and a token view that the visual tokenizer turns into
/// targets; the loss is the cross-entropy of the visual tokens at masked positions. Runs on the shared training loop
/// (checkpoints, resume, cancellation, progress with the masked-token accuracy) and returns a featurizer over the
/// pretrained backbone, which saves into the model zip and starts <c>BeitFinetune</c> (<c>BeitModelSource.FromPath("backbone.zip")</c>).
/// </summary>
public sealed class BeitPretrainEstimator : IEstimator<BeitFeaturizerTransformer>
{
    readonly IHost _host;
    readonly BeitPretrainOptions _options;

    internal BeitPretrainEstimator(IHostEnvironment env, BeitPretrainOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _host = env.Register(nameof(BeitPretrainEstimator));
        _options = options;
    }

    /// <summary>Pretrains on the images of <paramref name="input"/> (labels, if any, are not read) and returns the featurizer.</summary>
    public BeitFeaturizerTransformer Fit(IDataView input)
    {
        // The recipe fills a copy: the caller's options stay as given.
        var o = (BeitPretrainOptions)_options.CloneOptions();
        o.Device = BeitDevice.ForContext(o.Device, _host);
        var tokenizer = o.Tokenizer!;
        ImageColumn.Find(input.Schema, o.ImageColumnName);
        if (o.ValidationSet is not null) ImageColumn.Find(o.ValidationSet.Schema, o.ImageColumnName);
        int seed = o.ResolveSeed(_host);
        if (o.Threads is int threads) set_num_threads(threads);
        using var channel = _host.Start("BeitPretrain");

        int rows = DataViewRows.Count(input);
        if (rows == 0) throw new ArgumentException("The training data has no rows.", nameof(input));
        var (kind, because) = TrainingRecipes.ChoosePretraining(o.Recipe, o.Model!);
        var recipe = new RecipeReport(kind, because);
        TrainingRecipes.Pretrainer(o, recipe, o.Model!.Path is null ? o.Model.RandomArchitecture().NumHiddenLayers : null, rows);
        channel.Info(recipe.Describe());
        var model = BeitPretrainInitialization.Create(o, tokenizer.VocabularySize, seed, channel.Info);
        try
        {
            var config = model.Config;
            int grid = config.PatchGridSize, patches = config.NumPatches, size = config.ImageSize;
            if (tokenizer.GridSize != grid)
                throw new ArgumentException($"The tokenizer gives a {tokenizer.GridSize}x{tokenizer.GridSize} token grid but the model has {grid}x{grid} patches; " +
                    $"use a tokenizer whose input size is {grid} times its downsampling (DALL-E: {grid * 8} pixels).");
            var device = BeitDevice.Resolve(o.Device);
            model.to(device);
            tokenizer.MoveTo(device);
            var preprocessor = o.Preprocessor ?? o.Model!.FindPreprocessorConfig() ?? BeitPreprocessorConfig.Pt22k(size);
            var processor = new BeitImageProcessor(preprocessor);
            var views = new PretrainingViews(size, preprocessor.Resample, tokenizer.InputSize, o.MinCropScale, o.HorizontalFlip);
            int masked = o.MaskedPatches ?? Math.Max(1, (int)Math.Round(patches * 75.0 / 196));
            int minBlock = o.MinPatchesPerBlock ?? Math.Max(1, (int)Math.Round(patches * 16.0 / 196));
            var masking = new BlockwiseMaskingGenerator(grid, grid, masked, Math.Min(minBlock, masked));
            var reader = new UnlabeledImageReader(o.ImageColumnName, "training data");
            int shufflePool = DataViewRows.ShufflePool(input, o.ImageColumnName, rows, o.BatchSize);
            channel.Info($"masking {masked} of {patches} patches per image (blocks of at least {Math.Min(minBlock, masked)})");

            // A batch's inputs are the patch view; its targets pack the masks and the tokens: [B, 2, N] int64.
            TrainingBatch MakeBatch(IReadOnlyList<RgbImage> images, Func<int, Random> randomFor, bool augment)
            {
                int count = images.Count, tokenizerPixels = 3 * tokenizer.InputSize * tokenizer.InputSize;
                var pixels = new float[count * 3 * size * size];
                var tokenView = new float[count * tokenizerPixels];
                var masks = new long[count * patches];
                for (int i = 0; i < count; i++)
                {
                    var random = randomFor(i);
                    var (patchView, tokensView) = augment ? views.Apply(images[i], random) : views.Center(images[i]);
                    processor.Normalize(patchView, pixels.AsSpan(i * 3 * size * size, 3 * size * size));
                    ToUnitRange(tokensView, tokenView.AsSpan(i * tokenizerPixels, tokenizerPixels));
                    var mask = masking.Next(random);
                    for (int p = 0; p < patches; p++) masks[i * patches + p] = mask[p] ? 1 : 0;
                }
                Tensor targets;
                using (NewDisposeScope())
                {
                    var maskTensor = tensor(masks, [count, patches], device: device);
                    var tokens = tokenizer.Tokenize(tensor(tokenView, [count, 3, tokenizer.InputSize, tokenizer.InputSize], device: device)).to(ScalarType.Int64);
                    targets = stack([maskTensor, tokens], 1).MoveToOuterDisposeScope();
                }
                return new TrainingBatch(tensor(pixels, [count, 3, size, size], device: device), targets, count);
            }

            IEnumerable<TrainingBatch> Batches(int epoch, int skip)
            {
                int epochSeed = Seeds.Derive(seed, epoch);
                var shuffled = new MLContext(epochSeed).Data.ShuffleRows(input, epochSeed, shufflePoolSize: shufflePool);
                foreach (var (images, firstRow) in reader.Batches(shuffled, o.BatchSize, skip))
                    yield return MakeBatch(images, i => new Random(Seeds.Derive(seed, epoch, (int)(firstRow + i))), augment: true);
            }

            long correct = 0, counted = 0;
            Tensor Loss(TrainingBatch batch)
            {
                var mask = batch.Targets.select(1, 0).to(ScalarType.Bool);
                var labels = batch.Targets.select(1, 1)[mask];
                var logits = model.ForwardMasked(batch.Inputs, mask);
                using (no_grad())
                {
                    correct += logits.argmax(-1).eq(labels).sum().item<long>();
                    counted += labels.numel();
                }
                return nn.functional.cross_entropy(logits, labels);
            }

            double MaskedAccuracy(IDataView data)
            {
                using var noGrad = no_grad();
                model.eval();
                long right = 0, total = 0;
                foreach (var (images, firstRow) in new UnlabeledImageReader(o.ImageColumnName, "validation set").Batches(data, o.BatchSize, 0))
                {
                    using var scope = NewDisposeScope();
                    using var batch = MakeBatch(images, i => new Random(Seeds.Derive(seed, -1, (int)(firstRow + i))), augment: false);
                    var mask = batch.Targets.select(1, 0).to(ScalarType.Bool);
                    var labels = batch.Targets.select(1, 1)[mask];
                    right += model.ForwardMasked(batch.Inputs, mask).argmax(-1).eq(labels).sum().item<long>();
                    total += labels.numel();
                }
                return total == 0 ? 0 : (double)right / total;
            }

            new BeitTrainingLoop(o, model, config.NumHiddenLayers, seed, channel).Run(new TrainingTask
            {
                EpochBatches = Batches,
                BatchesPerEpoch = (rows + o.BatchSize - 1) / o.BatchSize,
                Loss = Loss,
                Validate = o.ValidationSet is null ? null : () => MaskedAccuracy(o.ValidationSet),
                TakeTrainingMetric = () =>
                {
                    double? accuracy = counted == 0 ? null : (double)correct / counted;
                    (correct, counted) = (0, 0);
                    return accuracy;
                },
            });
            model.eval();
            if (o.HuggingFaceOutputDirectory is { } directory)
            {
                BeitCheckpoint.Save(model, directory);
                File.WriteAllText(Path.Combine(directory, "preprocessor_config.json"), preprocessor.ToJson());
                channel.Info($"wrote the Hugging Face BeitForMaskedImageModeling checkpoint to {directory}");
            }
            return Featurizer(model, preprocessor, recipe.Describe(), o.Device);
        }
        finally
        {
            model.Dispose();
        }
    }

    BeitFeaturizerTransformer Featurizer(BeitForMaskedImageModeling model, BeitPreprocessorConfig preprocessor, string recipe, string device)
    {
        Dictionary<string, Tensor> weights;
        // Only the copies leave this scope; the featurizer's model must be built outside any scope, or the scope would free its parameters.
        using (NewDisposeScope())
            weights = model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().cpu().clone().DetachFromDisposeScope());
        using var checkpoint = BeitCheckpoint.FromWeights("the pretrained model", model.Config.Clone(), BeitArchitecture.MaskedImageModeling, weights);
        var engine = new BeitFeaturizerEngine(checkpoint, BeitPooling.Mean, -1, normalizeL2: false, preprocessor, device);
        return new BeitFeaturizerTransformer(_host, _options.OutputColumnName, _options.ImageColumnName, engine, _options.FeaturizerBatchSize,
            BeitInvalidImageHandling.Throw, _options.Threads) { TrainingRecipe = recipe };
    }

    // The tokenizer reads pixels in [0, 1], channel-planar.
    static void ToUnitRange(RgbImage image, Span<float> destination)
    {
        int plane = image.Width * image.Height;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < plane; p++)
                destination[c * plane + p] = image.Pixels[p * 3 + c] / 255f;
    }

    /// <summary>The input columns plus the featurizer's float vector column.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFind(_options.ImageColumnName, out var column))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{_options.ImageColumnName}' is not in the data.");
        if (!ImageColumn.IsSupported(column))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{_options.ImageColumnName}' is {MLNetInternals.TypeName(column)}; BeitPretrain needs {ImageColumn.Kinds}.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_options.OutputColumnName] = MLNetInternals.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single);
        return new SchemaShape(columns.Values);
    }
}
