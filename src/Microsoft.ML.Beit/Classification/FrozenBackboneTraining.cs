using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Beit.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Classification;

/// <summary>
/// Fine-tuning with a frozen backbone (<see cref="BeitFinetuneOptions.FreezeBackbone"/>), the bottleneck approach of ML.NET's
/// Model Builder: every training and validation image goes through the backbone once, at the evaluation transform, and
/// only the classifier head trains, on the cached pooled features, through the shared loop (schedule, checkpoints,
/// resume, validation and the best epoch as always). The backbone and pooler keep their weights.
/// </summary>
internal static class FrozenBackboneTraining
{
    public static void Run(BeitForImageClassification model, BeitFinetuneOptions o, LabeledImageReader reader, LabeledImageReader validationReader,
        IDataView input, BeitImageProcessor processor, Device device, int seed, IChannel channel)
    {
        foreach (var parameter in model.beit.parameters()) parameter.requires_grad = false;
        channel.Info("frozen backbone: computing the features of every training image once");
        var (features, targets) = Featurize(model, reader, input, o.BatchSize, processor, device);
        var validation = o.ValidationSet is null ? default : Featurize(model, validationReader, o.ValidationSet, o.BatchSize, processor, device);
        try
        {
            int rows = targets.Length, batchSize = o.BatchSize;
            double labelSmoothing = o.LabelSmoothing!.Value;
            IEnumerable<TrainingBatch> Batches(int epoch, int skip)
            {
                var random = new Random(Seeds.Derive(seed, epoch));
                var order = Enumerable.Range(0, rows).OrderBy(_ => random.Next()).ToArray();
                for (int start = skip * batchSize; start < rows; start += batchSize)
                {
                    var rowsOfBatch = order.AsSpan(start, Math.Min(batchSize, rows - start)).ToArray().Select(i => (long)i).ToArray();
                    using var index = tensor(rowsOfBatch);
                    yield return new TrainingBatch(features.index_select(0, index).to(device),
                        tensor(rowsOfBatch.Select(i => targets[i]).ToArray(), device: device), rowsOfBatch.Length);
                }
            }
            double Validate()
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var predicted = model.classifier.forward(validation.Features.to(device)).argmax(-1).cpu().data<long>().ToArray();
                return (double)predicted.Where((p, i) => p == validation.Targets[i]).Count() / predicted.Length;
            }
            var loop = new BeitTrainingLoop(o, model.classifier, 0, seed, channel);
            loop.Run(new TrainingTask
            {
                EpochBatches = Batches,
                BatchesPerEpoch = (rows + batchSize - 1) / batchSize,
                Loss = batch => BeitFinetuneTrainer.Loss(model.classifier.forward(batch.Inputs), batch.Targets, labelSmoothing),
                Validate = o.ValidationSet is null ? null : Validate,
            });
        }
        finally
        {
            features.Dispose();
            validation.Features?.Dispose();
            foreach (var parameter in model.beit.parameters()) parameter.requires_grad = true;
        }
    }

    // The pooled backbone output of every image, on the CPU, in the data's order.
    static (Tensor Features, long[] Targets) Featurize(BeitForImageClassification model, LabeledImageReader reader, IDataView data, int batchSize,
        BeitImageProcessor processor, Device device)
    {
        model.eval();
        var parts = new List<Tensor>();
        var targets = new List<long>();
        try
        {
            using var noGrad = no_grad();
            foreach (var (images, labels, _) in reader.Batches(data, batchSize, 0))
            {
                using var scope = NewDisposeScope();
                var pooled = model.beit.forward(processor.ProcessBatch(images).to(device), null, false, false).PoolerOutput!;
                parts.Add(pooled.cpu().MoveToOuterDisposeScope());
                targets.AddRange(labels);
            }
            return (cat(parts, 0), [.. targets]);
        }
        finally
        {
            foreach (var part in parts) part.Dispose();
        }
    }
}
