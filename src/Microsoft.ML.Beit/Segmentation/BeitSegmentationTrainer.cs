using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Recipes;
using Microsoft.ML.Beit.Search;
using Microsoft.ML.Beit.Segmentation;
using Microsoft.ML.Beit.Training;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit;

/// <summary>
/// Trains BEiT with UperNet for semantic segmentation through the shared training loop (see
/// <see cref="BeitSegmentationOptions"/>). Reads an image column and a label-map column, streams the data every epoch,
/// validates by mIoU, and returns a <see cref="BeitSemanticSegmentationTransformer"/>. Create it with
/// <c>mlContext.SemanticSegmentation().Trainers.Beit(options)</c>.
/// </summary>
public sealed class BeitSegmentationTrainer : IEstimator<BeitSemanticSegmentationTransformer>
{
    readonly IHost _host;
    readonly BeitSegmentationOptions _options;

    internal BeitSegmentationTrainer(IHostEnvironment env, BeitSegmentationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _host = env.Register(nameof(BeitSegmentationTrainer));
        _options = options;
    }

    /// <summary>
    /// Trains on <paramref name="input"/> and returns the segmenter: the recipe once, or with
    /// <see cref="BeitTrainingOptions.TrainTime"/> the best of a search within that budget.
    /// </summary>
    public BeitSemanticSegmentationTransformer Fit(IDataView input)
    {
        if (_options.TrainTime is null) return FitOnce(_options, input);
        new SegmentedImageReader(_options.ImageColumnName, _options.LabelColumnName, "training data").CheckSchema(input.Schema);
        return TrainTimeSearch.FitWithinBudget(_options, input, _host, "BeitSegmentation",
            (data, seed) => StratifiedSplit.Split(data, _options.ValidationSetFraction, seed),
            SearchCandidates.Segmenter(_options), (candidate, train) =>
            {
                // Candidates score with TorchSharp; only the winner is converted.
                candidate.Backend = BeitBackend.TorchSharp;
                return FitOnce(candidate, train);
            }, "mIoU", _options.Backend, _options.OnnxQuantization);
    }

    BeitSemanticSegmentationTransformer FitOnce(BeitSegmentationOptions options, IDataView input)
    {
        // The recipe fills a copy: the caller's options stay as given.
        var o = (BeitSegmentationOptions)options.CloneOptions();
        o.Device = BeitDevice.ForContext(o.Device, _host);
        var reader = new SegmentedImageReader(o.ImageColumnName, o.LabelColumnName, "training data");
        var validationReader = new SegmentedImageReader(o.ImageColumnName, o.LabelColumnName, "validation set");
        reader.CheckSchema(input.Schema);
        if (o.ValidationSet is not null) validationReader.CheckSchema(o.ValidationSet.Schema);
        int seed = o.ResolveSeed(_host);
        if (o.Threads is int threads) set_num_threads(threads);
        using var channel = _host.Start("BeitSegmentation");

        int rows = DataViewRows.Count(input);
        if (rows < 2) throw new ArgumentException($"The training data has {rows} row(s); BatchNorm needs at least 2 images per batch.", nameof(input));
        BeitForSemanticSegmentation model;
        RecipeReport recipe;
        Tensor? classWeights = null;
        using (var checkpoint = o.Model!.Path is null ? null : o.Model.Load())
        {
            var (kind, because) = TrainingRecipes.Choose(o.Recipe, o.Model, checkpoint);
            recipe = new RecipeReport(kind, because);
            int labelCount = o.ClassNames?.Count ?? (checkpoint?.Architecture == Checkpoints.BeitArchitecture.SemanticSegmentation
                ? checkpoint.Config.NumLabels
                : throw new ArgumentException("BeitSegmentationOptions.ClassNames is required for a new segmentation model and when the starting model is not a segmentation model.", nameof(input)));
            var survey = LabelSurvey.Read(reader, input, labelCount, o.IgnoreIndex, o.ReduceLabels);
            var architecture = checkpoint?.Config
                ?? TrainingRecipes.RandomArchitecture(o.Model, o.CropSize, o.PatchSize, survey.TypicalSide, TrainingRecipes.SegmentationGrid(o.Model), recipe);
            if (checkpoint is null) o.CropSize = architecture.ImageSize;
            TrainingRecipes.Segmenter(o, recipe, architecture, new TrainingData(rows, labelCount, survey.TypicalSide), survey.LargestClassShare);
            if (!o.QuietRecipe) channel.Info(recipe.Describe());
            if (o.ClassWeighting == BeitClassWeighting.Balanced) classWeights = tensor(survey.BalancedWeights());
            model = BeitSegmentationInitialization.Create(o, checkpoint, architecture, seed, o.QuietRecipe ? _ => { } : channel.Info);
        }
        try
        {
            var device = BeitDevice.Resolve(o.Device);
            model.to(device);
            int crop = model.Config.ImageSize, classes = model.Config.NumLabels;
            var preprocessor = o.Preprocessor ?? o.Model!.FindPreprocessorConfig() ?? BeitPreprocessorConfig.Pt22k(crop);
            var processor = new BeitImageProcessor(preprocessor);
            byte[] padColor = [.. preprocessor.ImageMean.Select(m => (byte)Math.Clamp(Math.Round(m * 255), 0, 255))];
            double labelSmoothing = o.LabelSmoothing!.Value;
            // The weights move to the model's device once; the finally below frees them.
            if (classWeights is not null && classWeights.device != device)
            {
                var moved = classWeights.to(device);
                classWeights.Dispose();
                classWeights = moved;
            }
            var weights = classWeights;
            var augmentation = new SegmentationAugmentation(crop, o.Augment ? o.ScaleRange : (1, 1), o.Augment ? o.HorizontalFlip : 0,
                preprocessor.Resample, (byte)o.IgnoreIndex, padColor);
            if (o.IgnoreIndex < classes)
                throw new ArgumentException($"IgnoreIndex {o.IgnoreIndex} is one of the {classes} class ids (0..{classes - 1}); the loss would ignore that class. Use a value >= {classes} (255 by default).");
            // A last batch of one image would give BatchNorm a variance of 0/0 (LibTorch does not refuse it): it is left out.
            int batchesPerEpoch = rows / o.BatchSize + (rows % o.BatchSize >= 2 ? 1 : 0);
            int shufflePool = DataViewRows.ShufflePool(input, o.ImageColumnName, rows, o.BatchSize);

            IEnumerable<TrainingBatch> Batches(int epoch, int skip)
            {
                int epochSeed = Seeds.Derive(seed, epoch);
                var shuffled = new MLContext(epochSeed).Data.ShuffleRows(input, epochSeed, shufflePoolSize: shufflePool);
                foreach (var (samples, firstRow) in reader.Batches(shuffled, o.BatchSize, skip))
                {
                    if (samples.Count < 2) yield break;
                    int plane = crop * crop;
                    var pixels = new float[samples.Count * 3 * plane];
                    var targets = new long[samples.Count * plane];
                    for (int i = 0; i < samples.Count; i++)
                    {
                        var augmented = augmentation.Apply(samples[i], new Random(Seeds.Derive(seed, epoch, (int)(firstRow + i))));
                        processor.Normalize(augmented.Image, pixels.AsSpan(i * 3 * plane, 3 * plane));
                        SegmentedImage.Targets(augmented.Labels, classes, o.IgnoreIndex, o.ReduceLabels, samples[i].Source)
                            .CopyTo(targets, i * plane);
                    }
                    yield return new TrainingBatch(tensor(pixels, [samples.Count, 3, crop, crop], device: device),
                        tensor(targets, [samples.Count, crop, crop], device: device), samples.Count);
                }
            }

            var loop = new BeitTrainingLoop(o, model, model.Config.NumHiddenLayers, seed, channel);
            loop.Run(new TrainingTask
            {
                EpochBatches = Batches,
                BatchesPerEpoch = batchesPerEpoch,
                // The loop's dispose scope owns the outputs.
                Loss = batch => model.Loss(model.forward(batch.Inputs, withAuxiliary: true), batch.Targets, labelSmoothing, weights).Total,
                Validate = o.ValidationSet is null ? null : () =>
                    BeitSegmentationEvaluation.Evaluate(new BeitSegmentationEngine(model, preprocessor, crop, o.Device, o.BatchSize), validationReader,
                        o.ValidationSet, o.IgnoreIndex, o.ReduceLabels, o.BatchSize).MeanIoU,
            });
            var engine = new BeitSegmentationEngine(model, preprocessor, crop, o.Device, o.BatchSize);
            var segmenter = new BeitSemanticSegmentationTransformer(_host, engine, o.ImageColumnName, o.PredictedMaskColumnName, o.ScoreColumnName,
                o.BatchSize, o.InvalidImage, o.IgnoreIndex, o.ReduceLabels) { TrainingRecipe = recipe.Describe() };
            if (o.Backend == BeitBackend.TorchSharp) return segmenter;
            using (segmenter) return segmenter.ToOnnxBackend(o.Device, o.Threads, o.OnnxQuantization);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            classWeights?.Dispose();
        }
    }

    /// <summary>The input columns plus <c>PredictedMask</c> (a variable-length vector of class ids) and optionally the scores.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var o = _options;
        if (!inputSchema.TryFind(o.ImageColumnName, out var image))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{o.ImageColumnName}' is not in the data.");
        if (!Scoring.ImageColumn.IsSupported(image))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{o.ImageColumnName}' is {MLNetInternals.TypeName(image)}; BEiT segmentation needs an image, encoded bytes or a path.");
        if (!inputSchema.TryFind(o.LabelColumnName, out _))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label-map column '{o.LabelColumnName}' is not in the data.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[o.PredictedMaskColumnName] = MLNetInternals.Column(o.PredictedMaskColumnName, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32);
        if (o.ScoreColumnName is { } score)
            columns[score] = MLNetInternals.Column(score, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single);
        return new SchemaShape(columns.Values);
    }
}
