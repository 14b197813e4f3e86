using Microsoft.ML.Beit.Classification;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Recipes;
using Microsoft.ML.Beit.Search;
using Microsoft.ML.Beit.Scoring;
using Microsoft.ML.Beit.Training;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit;

/// <summary>
/// Fine-tunes BEiT as a multiclass image classifier with unilm's recipe (see <see cref="BeitFinetuneOptions"/>).
/// Reads an image column and a key label column, streams the data every epoch (shuffled through a pool, never
/// loaded whole), and returns a <see cref="BeitImageClassificationTransformer"/>. Create it with
/// <see cref="BeitCatalog.BeitFinetune(MulticlassClassificationCatalog.MulticlassClassificationTrainers, BeitFinetuneOptions)"/>.
/// </summary>
public sealed class BeitFinetuneTrainer : IEstimator<BeitImageClassificationTransformer>
{
    readonly IHost _host;
    readonly BeitFinetuneOptions _options;

    internal BeitFinetuneTrainer(IHostEnvironment env, BeitFinetuneOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _host = env.Register(nameof(BeitFinetuneTrainer));
        _options = options;
    }

    /// <summary>
    /// Trains on <paramref name="input"/> and returns the classifier: the recipe once, or with
    /// <see cref="BeitTrainingOptions.TrainTime"/> the best of a search within that budget.
    /// </summary>
    public BeitImageClassificationTransformer Fit(IDataView input)
    {
        if (_options.TrainTime is null) return FitOnce(_options, input);
        ImageColumn.Find(input.Schema, _options.ImageColumnName);
        LabelNames(input.Schema, _options.LabelColumnName);
        return TrainTimeSearch.FitWithinBudget(_options, input, _host, "BeitFinetune",
            (data, seed) => StratifiedSplit.Split(data, _options.LabelColumnName, _options.ValidationSetFraction, seed),
            SearchCandidates.Classifier(_options), (candidate, train) =>
            {
                // Candidates score with TorchSharp; only the winner is converted.
                candidate.Backend = BeitBackend.TorchSharp;
                return FitOnce(candidate, train);
            }, "accuracy", _options.Backend, _options.OnnxQuantization);
    }

    BeitImageClassificationTransformer FitOnce(BeitFinetuneOptions options, IDataView input)
    {
        // The recipe fills a copy: the caller's options stay as given, so that they can train again on other data.
        var o = (BeitFinetuneOptions)options.CloneOptions();
        o.Device = BeitDevice.ForContext(o.Device, _host);
        ImageColumn.Find(input.Schema, o.ImageColumnName);
        var labels = LabelNames(input.Schema, o.LabelColumnName);
        if (o.ValidationSet is not null)
        {
            ImageColumn.Find(o.ValidationSet.Schema, o.ImageColumnName);
            var validationLabels = LabelNames(o.ValidationSet.Schema, o.LabelColumnName);
            if (!validationLabels.SequenceEqual(labels))
                throw new ArgumentException($"The validation set's label column '{o.LabelColumnName}' has classes [{string.Join(", ", validationLabels)}] " +
                    $"but the training data's are [{string.Join(", ", labels)}]; map both with the same MapValueToKey transformer.");
        }
        // A resumed run reuses the interrupted run's seed, so that its data order and augmentations repeat.
        int seed = o.ResolveSeed(_host);
        if (o.Threads is int threads) set_num_threads(threads);
        using var channel = _host.Start("BeitFinetune");

        var reader = new LabeledImageReader(o.ImageColumnName, o.LabelColumnName, labels.Count, "training data");
        int rows = DataViewRows.Count(input);
        if (rows == 0) throw new ArgumentException("The training data has no rows.", nameof(input));
        BeitForImageClassification model;
        RecipeReport recipe;
        using (var checkpoint = o.Model!.Path is null ? null : o.Model.Load())
        {
            var (kind, because) = TrainingRecipes.Choose(o.Recipe, o.Model, checkpoint);
            recipe = new RecipeReport(kind, because);
            int typicalSide = ImageSurvey.TypicalSide(reader.Batches(input, ImageSurvey.SampleSize, 0).First().Images);
            var architecture = checkpoint?.Config
                ?? TrainingRecipes.RandomArchitecture(o.Model, o.ImageSize, o.PatchSize, typicalSide, TrainingRecipes.ClassifierGrid(o.Model), recipe);
            TrainingRecipes.Classifier(o, recipe, architecture, new TrainingData(rows, labels.Count, typicalSide));
            if (!o.QuietRecipe) channel.Info(recipe.Describe());
            model = BeitClassifierInitialization.Create(o, checkpoint, architecture, labels, seed, o.QuietRecipe ? _ => { } : channel.Info);
        }
        try
        {
            var device = BeitDevice.Resolve(o.Device);
            model.to(device);
            var preprocessor = o.Preprocessor ?? o.Model!.FindPreprocessorConfig() ?? BeitPreprocessorConfig.Pt22k(model.Config.ImageSize);
            if (preprocessor.OutputSize is not { } size || size.Height != model.Config.ImageSize || size.Width != model.Config.ImageSize)
                throw new ArgumentException(
                    $"The preprocessing gives {(preprocessor.OutputSize is { } s ? $"{s.Height}x{s.Width}" : "variable-size")} images but the model takes " +
                    $"{model.Config.ImageSize}x{model.Config.ImageSize}; set BeitFinetuneOptions.Preprocessor's resize (and crop) size to {model.Config.ImageSize}.");
            var processor = new BeitImageProcessor(preprocessor);
            var validationReader = new LabeledImageReader(o.ImageColumnName, o.LabelColumnName, labels.Count, "validation set");
            if (o.FreezeBackbone)
                FrozenBackboneTraining.Run(model, o, reader, validationReader, input, processor, device, seed, channel);
            else
            {
                int imageSize = model.Config.ImageSize;
                bool paths = input.Schema[o.ImageColumnName].Type is TextDataViewType;
                int shufflePool = DataViewRows.ShufflePool(input, o.ImageColumnName, rows, o.BatchSize);
                if (!paths && rows > shufflePool && !input.CanShuffle)
                    channel.Warning($"Shuffling through a pool of {shufflePool} rows: if the data is sorted (for example by class), shuffle it first.");
                bool augment = o.Augment!.Value;
                double labelSmoothing = o.LabelSmoothing!.Value;
                var augmentation = new ImageAugmentation(o.MinCropScale!.Value, 1.0, o.HorizontalFlip!.Value,
                    o.RandAugmentLayers > 0 ? new RandAugment(o.RandAugmentLayers.Value, o.RandAugmentMagnitude!.Value) : null);
                var erasing = new RandomErasing(augment ? o.RandomErasing!.Value : 0);
                var mixing = new MixupCutmix(o.MixupAlpha, o.CutmixAlpha, o.MixupSwitchProbability, labelSmoothing, labels.Count);

                IEnumerable<TrainingBatch> Batches(int epoch, int skip)
                {
                    int epochSeed = Seeds.Derive(seed, epoch);
                    var shuffled = new MLContext(epochSeed).Data.ShuffleRows(input, epochSeed, shufflePoolSize: shufflePool);
                    int batchIndex = skip;
                    foreach (var (images, targets, firstRow) in reader.Batches(shuffled, o.BatchSize, skip))
                    {
                        var pixels = new float[images.Count * 3 * imageSize * imageSize];
                        for (int i = 0; i < images.Count; i++)
                        {
                            var random = new Random(Seeds.Derive(seed, epoch, firstRow + i));
                            var prepared = augment ? augmentation.Apply(images[i], imageSize, preprocessor.Resample, random) : processor.ResizeAndCrop(images[i]);
                            var values = pixels.AsSpan(i * 3 * imageSize * imageSize, 3 * imageSize * imageSize);
                            processor.Normalize(prepared, values);
                            erasing.Apply(values, imageSize, imageSize, random);
                        }
                        var inputs = tensor(pixels, [images.Count, 3, imageSize, imageSize], device: device);
                        var classes = tensor(targets, device: device);
                        if (mixing.Enabled)
                        {
                            using var hard = classes;
                            classes = mixing.Apply(inputs, hard, new Random(Seeds.Derive(seed, epoch, batchIndex, -1)));
                        }
                        batchIndex++;
                        yield return new TrainingBatch(inputs, classes, images.Count);
                    }
                }

                double? Validate()
                {
                    if (o.ValidationSet is null) return null;
                    var engine = new BeitClassifierEngine(model, preprocessor, o.Device);
                    long correct = 0, total = 0;
                    foreach (var (images, targets, _) in validationReader.Batches(o.ValidationSet, o.BatchSize, 0))
                    {
                        var probabilities = engine.Probabilities(images);
                        for (int i = 0; i < images.Count; i++)
                            if (ArgMax(probabilities[i]) == targets[i]) correct++;
                        total += images.Count;
                    }
                    return total == 0 ? 0 : (double)correct / total;
                }

                var loop = new BeitTrainingLoop(o, model, model.Config.NumHiddenLayers, seed, channel);
                loop.Run(new TrainingTask
                {
                    EpochBatches = Batches,
                    BatchesPerEpoch = (rows + o.BatchSize - 1) / o.BatchSize,
                    Loss = batch => Loss(model.forward(batch.Inputs).Logits, batch.Targets, labelSmoothing),
                    Validate = o.ValidationSet is null ? null : () => Validate()!.Value,
                });
            }
            var trained = new BeitClassifierEngine(model, preprocessor, o.Device);
            var classifier = new BeitImageClassificationTransformer(_host, trained, o.ImageColumnName, o.ScoreColumnName, o.PredictedLabelColumnName,
                o.BatchSize, o.InvalidImage) { TrainingRecipe = recipe.Describe() };
            if (o.Backend == BeitBackend.TorchSharp) return classifier;
            using (classifier) return classifier.ToOnnxBackend(o.Device, o.Threads, o.OnnxQuantization);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The input columns plus <c>Score</c> (a float vector) and <c>PredictedLabel</c> (a key like the label).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var o = _options;
        if (!inputSchema.TryFind(o.ImageColumnName, out var image))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{o.ImageColumnName}' is not in the data.");
        if (!ImageColumn.IsSupported(image))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{o.ImageColumnName}' is {MLNetInternals.TypeName(image)}; BeitFinetune needs {ImageColumn.Kinds}.");
        if (!inputSchema.TryFind(o.LabelColumnName, out var label))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{o.LabelColumnName}' is not in the data.");
        if (!label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{o.LabelColumnName}' is {MLNetInternals.TypeName(label)}, not a key; add MapValueToKey(\"{o.LabelColumnName}\") before the trainer.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[o.ScoreColumnName] = MLNetInternals.Column(o.ScoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single);
        // The predicted label's key values are the class names as text (see LabelNames).
        var keyValues = new SchemaShape([MLNetInternals.Column(MLNetInternals.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance)]);
        columns[o.PredictedLabelColumnName] = MLNetInternals.Column(o.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, isKey: true, keyValues);
        return new SchemaShape(columns.Values);
    }

    // Hard labels: cross-entropy with label smoothing. Soft targets (mixup/cutmix, already smoothed): their cross-entropy.
    internal static Tensor Loss(Tensor logits, Tensor targets, double labelSmoothing) =>
        targets.dtype == ScalarType.Int64
            ? nn.functional.cross_entropy(logits, targets, label_smoothing: labelSmoothing)
            : -(targets * logits.log_softmax(-1)).sum(-1).mean();

    static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    static List<string> KeyValueNames<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(v => v?.ToString() ?? "").ToList();
    }

    /// <summary>
    /// The class names of a key label column: its key values as text (numeric labels become their digits, so
    /// <c>MapKeyToValue</c> on PredictedLabel gives text), or the key numbers when it has none.
    /// </summary>
    static List<string> LabelNames(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' is not in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (column.Type is not KeyDataViewType key)
            throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' is {column.Type}, not a key; add MapValueToKey(\"{name}\") before the trainer.");
        int count = checked((int)key.Count);
        if (count < 2) throw new ArgumentException($"Label column '{name}' has {count} class(es); a classifier needs at least 2.");
        if (column.Annotations.Schema.GetColumnOrNull(MLNetInternals.KeyValues) is { Type: VectorDataViewType { ItemType: var itemType } })
        {
            // Key values of any type (text, or numbers from MapValueToKey over numeric labels) become the class names.
            var read = typeof(BeitFinetuneTrainer).GetMethod(nameof(KeyValueNames), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(itemType.RawType);
            return (List<string>)read.Invoke(null, [column])!;
        }
        return Enumerable.Range(1, count).Select(i => i.ToString()).ToList();
    }
}
