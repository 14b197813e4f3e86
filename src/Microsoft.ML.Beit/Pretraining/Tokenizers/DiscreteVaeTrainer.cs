using System.Diagnostics;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Pretraining;

/// <summary>
/// Trains a <see cref="BeitDiscreteVae"/> tokenizer on unlabeled images with the Gumbel-softmax relaxation (the loss,
/// schedules and defaults are described on <see cref="DiscreteVaeOptions"/>). Images stream from disk a batch at a time,
/// in a seeded shuffled order per epoch; the same seed on the CPU gives the same tokenizer.
/// </summary>
public static class DiscreteVaeTrainer
{
    /// <summary>The image files under <paramref name="directory"/> and its subfolders (<see cref="BeitImageFiles.Extensions"/>, any case), in ordinal path order.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">It holds no images.</exception>
    public static IReadOnlyList<string> FindImages(string directory)
    {
        var files = BeitImageFiles.Find(directory);
        if (files.Count == 0)
            throw new InvalidDataException($"No images ({BeitImageFiles.Listed}) were found under '{directory}' or its subfolders.");
        return files;
    }

    /// <summary>Trains on image files, decoding each batch as it is needed.</summary>
    /// <returns>The trained tokenizer, on the training device.</returns>
    /// <exception cref="ArgumentException">No paths, or an option is out of range.</exception>
    /// <exception cref="InvalidDataException">A file is not a decodable image (the message names it).</exception>
    public static DiscreteVaeTokenizer Train(IReadOnlyList<string> imagePaths, DiscreteVaeOptions options)
    {
        ArgumentNullException.ThrowIfNull(imagePaths);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var processor = Processor(options.InputSize);
        return Train(imagePaths.Count, i => processor.ResizeAndCrop(RgbImage.Load(imagePaths[i])), processor, options);
    }

    /// <summary>Trains on decoded images held in memory (resized once, up front).</summary>
    /// <returns>The trained tokenizer, on the training device.</returns>
    /// <exception cref="ArgumentException">No images, or an option is out of range.</exception>
    public static DiscreteVaeTokenizer Train(IReadOnlyList<RgbImage> images, DiscreteVaeOptions options)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var processor = Processor(options.InputSize);
        var sized = new RgbImage[images.Count];
        Parallel.For(0, images.Count, i => sized[i] = processor.ResizeAndCrop(images[i]));
        return Train(sized.Length, i => sized[i], processor, options);
    }

    // Short side to the input size (bicubic, antialiased), center crop, [0, 1] without normalisation.
    static BeitImageProcessor Processor(int size) => new(new BeitPreprocessorConfig
    {
        ShortestEdge = size, ResizeHeight = size, ResizeWidth = size, Resample = BeitResample.Bicubic,
        DoCenterCrop = true, CropHeight = size, CropWidth = size, DoNormalize = false,
    });

    static DiscreteVaeTokenizer Train(int count, Func<int, RgbImage> image, BeitImageProcessor processor, DiscreteVaeOptions options)
    {
        if (count == 0) throw new ArgumentException("There are no images to train the tokenizer on.");
        var device = BeitDevice.Resolve(options.Device);
        var config = options.ToConfig();
        manual_seed(options.Seed);
        var model = new BeitDiscreteVae(config);
        try
        {
            model.to(device);
            Run(model, count, image, processor, options, device);
            return new DiscreteVaeTokenizer(model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static void Run(BeitDiscreteVae model, int count, Func<int, RgbImage> image, BeitImageProcessor processor, DiscreteVaeOptions options, Device device)
    {
        var named = model.named_parameters().ToList();
        var decayed = named.Where(p => p.parameter.dim() > 1).ToList();
        var plain = named.Where(p => p.parameter.dim() <= 1).ToList();
        using var optimizer = new BeitAdamW(
        [
            new BeitParameterGroup(0, 1.0, options.WeightDecay, [.. decayed.Select(p => p.name)], [.. decayed.Select(p => p.parameter)]),
            new BeitParameterGroup(0, 1.0, 0.0, [.. plain.Select(p => p.name)], [.. plain.Select(p => p.parameter)]),
        ], 0.9, 0.999, 1e-8);

        int batchesPerEpoch = (count + options.BatchSize - 1) / options.BatchSize;
        int totalSteps = batchesPerEpoch * options.Epochs;
        var learningRate = new CosineSchedule(options.LearningRate, options.MinLearningRate, totalSteps, 0);
        int klWarmup = (int)Math.Round(options.KlWarmupFraction * totalSteps);
        double Temperature(int step) =>
            options.StartTemperature * Math.Pow(options.EndTemperature / options.StartTemperature, totalSteps == 1 ? 1 : (double)step / (totalSteps - 1));
        double KlWeight(int step) => options.KlWeight * (klWarmup == 0 ? 1 : Math.Min(1.0, (step + 1.0) / klWarmup));

        int vocabulary = options.VocabularySize;
        double logVocabulary = Math.Log(vocabulary);
        var clock = Stopwatch.StartNew();
        int step = 0;
        model.train();
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            var order = Enumerable.Range(0, count).ToArray();
            new Random(Seeds.Derive(options.Seed, epoch)).Shuffle(order);
            var histogram = new long[vocabulary];
            double reconstructionSum = 0, klSum = 0;
            for (int b = 0; b < batchesPerEpoch; b++)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                var indices = order.AsSpan(b * options.BatchSize, Math.Min(options.BatchSize, count - b * options.BatchSize)).ToArray();
                using var scope = NewDisposeScope();
                var images = new RgbImage[indices.Length];
                Parallel.For(0, indices.Length, i => images[i] = image(indices[i]));
                var pixels = processor.ProcessBatch(images).to(device);

                // The Gumbel noise depends on the position in the run, not on what ran before.
                manual_seed(Seeds.Derive(options.Seed, epoch, b));
                using var pass = model.Relaxed(pixels, Temperature(step));
                var reconstruction = nn.functional.mse_loss(pass.Reconstruction, pixels);
                // KL(q || uniform) = sum q log q + log V; the constant does not change the gradient.
                var logQ = pass.Logits.log_softmax(1);
                var negativeEntropy = logQ.exp().mul(logQ).sum(1).mean();
                var loss = ScalarOps.Blend(negativeEntropy, KlWeight(step), reconstruction, 1.0);
                loss.backward();
                optimizer.Step(learningRate[step]);
                model.zero_grad();

                double mse = reconstruction.item<float>();
                if (!double.IsFinite(mse))
                    throw new InvalidOperationException($"The reconstruction loss became {mse} at step {step + 1}; lower LearningRate.");
                reconstructionSum += mse * indices.Length;
                klSum += (negativeEntropy.item<float>() + logVocabulary) * indices.Length;
                var counts = pass.Logits.detach().argmax(1).flatten().bincount(null, vocabulary).cpu().data<long>();
                for (int v = 0; v < vocabulary; v++) histogram[v] += counts[v];
                step++;
            }
            options.Progress?.Report(new DiscreteVaeProgress(epoch + 1, options.Epochs, step, reconstructionSum / count, klSum / count,
                KlWeight(step - 1), Temperature(step - 1), learningRate[step - 1], histogram.Count(c => c > 0), vocabulary, Perplexity(histogram), clock.Elapsed));
        }
        model.eval();
    }

    static double Perplexity(long[] histogram)
    {
        double total = histogram.Sum(), entropy = 0;
        foreach (long c in histogram)
            if (c > 0) entropy -= c / total * Math.Log(c / total);
        return Math.Exp(entropy);
    }
}
