using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Training;

/// <summary>A micro-batch: model inputs and targets on the training device.</summary>
internal sealed record TrainingBatch(Tensor Inputs, Tensor Targets, int Count) : IDisposable
{
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>What a trainer plugs into the shared loop.</summary>
internal sealed class TrainingTask
{
    /// <summary>Micro-batches of one epoch in order, skipping the first <c>skip</c> (already trained on before a resume).</summary>
    public required Func<int, int, IEnumerable<TrainingBatch>> EpochBatches { get; init; }

    /// <summary>Micro-batches per epoch.</summary>
    public required int BatchesPerEpoch { get; init; }

    /// <summary>The training loss of a micro-batch (the model is in training mode).</summary>
    public required Func<TrainingBatch, Tensor> Loss { get; init; }

    /// <summary>A validation metric where higher is better, or null when there is no validation data.</summary>
    public Func<double>? Validate { get; init; }

    /// <summary>A training metric accumulated since the last call (which resets it), reported with each step; null for none.</summary>
    public Func<double?>? TakeTrainingMetric { get; init; }
}

/// <summary>
/// The one training loop every BEiT trainer shares: AdamW (<see cref="BeitAdamW"/>) over layer-decayed parameter groups, warmup + cosine
/// schedule per optimizer step, gradient accumulation and clipping, seeded randomness per micro-batch (so a resumed
/// run repeats an uninterrupted one on the CPU), validation with early stopping and restore of the best weights,
/// atomic checkpoints, cancellation, progress and TensorBoard curves.
/// </summary>
internal sealed class BeitTrainingLoop(BeitTrainingOptions options, nn.Module model, int numLayers, int seed, IChannel channel)
{
    const int KeptCheckpoints = 3;
    const string StateFile = "state.json", WeightsFile = "model.safetensors", OptimizerFile = "optimizer.safetensors", BestFile = "best.safetensors";

    // The trainers hand the loop a copy of their options that the recipe has filled.
    int Epochs => options.Epochs ?? throw Unfilled(nameof(Epochs));
    double LayerDecay => options.LayerDecay ?? throw Unfilled(nameof(LayerDecay));
    double WeightDecay => options.WeightDecay ?? throw Unfilled(nameof(WeightDecay));
    double WarmupEpochs => options.WarmupEpochs ?? throw Unfilled(nameof(WarmupEpochs));

    static InvalidOperationException Unfilled(string option) => new($"The training recipe left {option} unset.");

    readonly TensorBoardLog? _log = options.LogDirectory is { } logs ? new TensorBoardLog(logs) : null;

    sealed record LoopState(int Epoch, int BatchInEpoch, int Step, double? BestMetric, int EpochsWithoutImprovement, double? LastMetric,
        int Seed, int BatchSize, int AccumulationSteps);

    /// <summary>The seed a checkpointed run used, so that a resume without an explicit seed repeats its draws.</summary>
    public static int? ResumedSeed(string resumeFrom)
    {
        string folder = CheckpointFolder(resumeFrom);
        string file = Path.Combine(folder, StateFile);
        return File.Exists(file) ? JsonSerializer.Deserialize<LoopState>(File.ReadAllText(file))?.Seed : null;
    }

    static string CheckpointFolder(string path) =>
        File.Exists(Path.Combine(path, "latest")) ? Path.Combine(path, File.ReadAllText(Path.Combine(path, "latest")).Trim()) : path;

    public void Run(TrainingTask task)
    {
        var groups = BeitLayerDecay.Groups(model, numLayers, LayerDecay, WeightDecay);
        using var optimizer = new BeitAdamW(groups, options.Betas.Beta1, options.Betas.Beta2, options.Epsilon);
        int stepsPerEpoch = (task.BatchesPerEpoch + options.AccumulationSteps - 1) / options.AccumulationSteps;
        int totalSteps = stepsPerEpoch * Epochs;
        var schedule = options.CreateSchedule(totalSteps, (int)(WarmupEpochs * stepsPerEpoch));

        var state = new LoopState(0, 0, 0, null, 0, null, seed, options.BatchSize, options.AccumulationSteps);
        Dictionary<string, Tensor>? best = null;
        if (options.ResumeFrom is { } resume)
            (state, best) = Resume(resume, optimizer);

        try
        {
            Train(task, optimizer, schedule, totalSteps, ref state, ref best);
        }
        catch (OperationCanceledException) when (options.ReturnModelWhenCancelled && options.CancellationToken.IsCancellationRequested)
        {
            // The loop is cancelled only between batches, where the weights and the optimizer are those of state.Step.
            SaveCheckpoint(state, optimizer, best);
            channel.Warning($"training was cancelled after step {state.Step} of {totalSteps}; keeping " +
                (best is null ? "the last step's weights" : $"the best validated weights ({state.BestMetric:F4})"));
            RestoreBest(best, state);
        }
        finally
        {
            foreach (var t in best?.Values ?? Enumerable.Empty<Tensor>()) t.Dispose();
        }
        model.eval();
    }

    void Train(TrainingTask task, BeitAdamW optimizer, Func<int, double> schedule, int totalSteps,
        ref LoopState state, ref Dictionary<string, Tensor>? best)
    {
        if (options.EarlyStoppingPatience is int stopped && state.EpochsWithoutImprovement >= stopped)
        {
            channel.Info($"the resumed run had already stopped early (no improvement for {stopped} epochs)");
            RestoreBest(best, state);
            return;
        }
        if (options.StopAfterEpoch is int stopAt && state.Epoch >= stopAt)
        {
            RestoreBest(best, state);
            return;
        }
        var clock = Stopwatch.StartNew();
        int startStep = state.Step;
        double stepLoss = 0;
        int stepBatches = 0;
        for (int epoch = state.Epoch; epoch < Epochs; epoch++)
        {
            model.train();
            var epochClock = Stopwatch.StartNew();
            int images = 0, batchInEpoch = epoch == state.Epoch ? state.BatchInEpoch : 0;
            int step = state.Step;
            foreach (var batch in task.EpochBatches(epoch, batchInEpoch))
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    // Stochastic depth and dropout draw from a generator seeded by position, not history.
                    manual_seed(Seeds.Derive(seed, epoch, batchInEpoch));
                    var loss = task.Loss(batch);
                    // Average over the micro-batches of this step (the epoch's last step may have fewer).
                    int groupStart = batchInEpoch / options.AccumulationSteps * options.AccumulationSteps;
                    int groupSize = Math.Min(options.AccumulationSteps, task.BatchesPerEpoch - groupStart);
                    (groupSize == 1 ? loss : ScalarOps.Mul(loss, 1.0 / groupSize)).backward();
                    stepLoss += loss.item<float>();
                    stepBatches++;
                    images += batch.Count;
                }
                batchInEpoch++;
                if (batchInEpoch % options.AccumulationSteps != 0 && batchInEpoch != task.BatchesPerEpoch) continue;

                double lr = schedule(step);
                double meanLoss = stepLoss / stepBatches;
                bool finite = double.IsFinite(meanLoss);
                if (!finite && options.NonFiniteLoss == BeitNonFiniteLossHandling.Stop)
                    throw new InvalidOperationException(
                        $"The training loss became {meanLoss} at step {step + 1} (epoch {epoch + 1}); lower the learning rate, enable ClipGradient, " +
                        "or set NonFiniteLoss = SkipStep. The last checkpoint is still usable with ResumeFrom.");
                if (finite)
                {
                    if (options.ClipGradient is double clip)
                        nn.utils.clip_grad_norm_(model.parameters(), clip);
                    optimizer.Step(lr);
                }
                else
                {
                    // The forward pass already updated BatchNorm running statistics; skipping the step cannot undo that.
                    if (!BuffersFinite())
                        throw new InvalidOperationException(
                            $"The training loss became {meanLoss} at step {step + 1} (epoch {epoch + 1}) and it made the model's BatchNorm statistics " +
                            "non-finite, so the step cannot be skipped; lower the learning rate or enable ClipGradient, and resume from the last checkpoint.");
                    channel.Warning($"step {step + 1} (epoch {epoch + 1}): the loss is {meanLoss}; the step was skipped");
                }
                model.zero_grad();
                step++;
                stepLoss = 0;
                stepBatches = 0;
                state = state with { Epoch = epoch, BatchInEpoch = batchInEpoch, Step = step };
                Report(epoch, step, totalSteps, meanLoss, lr, images / epochClock.Elapsed.TotalSeconds, state.LastMetric, clock, step - startStep,
                    task.TakeTrainingMetric?.Invoke());
                if (step % options.CheckpointEverySteps == 0)
                    SaveCheckpoint(state, optimizer, best);
            }

            state = state with { Epoch = epoch + 1, BatchInEpoch = 0 };
            if (task.Validate is not null)
            {
                double metric = task.Validate();
                bool improved = state.BestMetric is not double previous || metric > previous;
                if (improved)
                {
                    foreach (var t in best?.Values ?? Enumerable.Empty<Tensor>()) t.Dispose();
                    using var scope = NewDisposeScope();
                    best = model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().cpu().clone().DetachFromDisposeScope());
                }
                state = state with
                {
                    LastMetric = metric,
                    BestMetric = improved ? metric : state.BestMetric,
                    EpochsWithoutImprovement = improved ? 0 : state.EpochsWithoutImprovement + 1,
                };
                channel.Info($"epoch {epoch + 1}/{Epochs}: validation {metric:F4}{(improved ? " (best)" : "")}");
                _log?.Validation(state.Step, metric);
                Report(epoch, state.Step, totalSteps, double.NaN, schedule(Math.Max(state.Step - 1, 0)), 0, metric, clock, state.Step - startStep);
            }
            SaveCheckpoint(state, optimizer, best);
            if (options.StopAfterEpoch is int stop && epoch + 1 >= stop) break;
            if (options.EarlyStoppingPatience is int patience && state.EpochsWithoutImprovement >= patience)
            {
                channel.Info($"early stopping after epoch {epoch + 1}: no improvement for {patience} epoch(s)");
                break;
            }
        }

        RestoreBest(best, state);
    }

    bool BuffersFinite()
    {
        using var scope = NewDisposeScope();
        return model.named_buffers().All(b => !b.buffer.is_floating_point() || b.buffer.isfinite().all().item<bool>());
    }

    void RestoreBest(Dictionary<string, Tensor>? best, LoopState state)
    {
        if (best is null) return;
        BeitStateDict.Load(model, best, "the best epoch's weights");
        channel.Info($"restored the weights of the best validation metric ({state.BestMetric:F4})");
    }

    void Report(int epoch, int step, int totalSteps, double loss, double lr, double imagesPerSecond, double? metric, Stopwatch clock, int stepsThisRun,
        double? trainingMetric = null)
    {
        var left = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / Math.Max(stepsThisRun, 1) * (totalSteps - step));
        var progress = new BeitTrainingProgress(epoch + 1, Epochs, step, totalSteps, loss, lr, imagesPerSecond, metric, left)
        {
            TrainingMetric = trainingMetric,
        };
        options.Progress?.Report(progress);
        if (double.IsFinite(loss)) _log?.Step(step, loss, lr, imagesPerSecond, trainingMetric);
        if (double.IsFinite(loss) && (step % 10 == 0 || step == totalSteps))
            channel.Trace($"epoch {epoch + 1} step {step}/{totalSteps} loss {loss:F4}{(trainingMetric is double m ? $" metric {m:F4}" : "")} lr {lr:E2} {imagesPerSecond:F1} images/s");
    }

    // A checkpoint is a folder written beside its final name and renamed into place, so a crash mid-write
    // leaves the previous checkpoint intact; "latest" names the newest one.
    // A failed write (disk full, a read-only folder) costs that checkpoint only: the previous one stays intact, and training goes on.
    void SaveCheckpoint(LoopState state, BeitAdamW optimizer, Dictionary<string, Tensor>? best)
    {
        if (options.CheckpointDirectory is not { } root) return;
        string name = $"step-{state.Step:D7}-epoch-{state.Epoch:D3}";
        try
        {
            WriteCheckpoint(root, name, state, optimizer, best);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                if (Directory.Exists(Path.Combine(root, name + ".partial"))) Directory.Delete(Path.Combine(root, name + ".partial"), recursive: true);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Leave the partial folder; it is never read (only 'latest' names checkpoints).
            }
            string previous;
            try
            {
                string latest = Path.Combine(root, "latest");
                previous = File.Exists(latest) ? $"The previous checkpoint, {File.ReadAllText(latest).Trim()}, is intact." : "No earlier checkpoint exists.";
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                previous = "The folder cannot be read either; earlier checkpoints were not touched.";
            }
            channel.Warning($"could not write checkpoint {name} in {root}: {e.Message.TrimEnd('.')}. {previous} Training goes on.");
        }
    }

    void WriteCheckpoint(string root, string name, LoopState state, BeitAdamW optimizer, Dictionary<string, Tensor>? best)
    {
        Directory.CreateDirectory(root);
        string final = Path.Combine(root, name), partial = final + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        using (var scope = NewDisposeScope())
            SafetensorsFile.Write(Path.Combine(partial, WeightsFile), model.state_dict());
        if (best is not null) SafetensorsFile.Write(Path.Combine(partial, BestFile), best);
        optimizer.Save(Path.Combine(partial, OptimizerFile));
        File.WriteAllText(Path.Combine(partial, StateFile), JsonSerializer.Serialize(state));
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(partial, final);
        File.WriteAllText(Path.Combine(root, "latest.partial"), name);
        File.Move(Path.Combine(root, "latest.partial"), Path.Combine(root, "latest"), overwrite: true);
        channel.Trace($"checkpoint {final}");
        // Each checkpoint holds the weights four times over (weights, two optimizer moments, best weights): keep the newest few.
        foreach (var old in Directory.GetDirectories(root, "step-*").Where(d => !d.EndsWith(".partial", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal).SkipLast(KeptCheckpoints))
            Directory.Delete(old, recursive: true);
    }

    (LoopState, Dictionary<string, Tensor>?) Resume(string path, BeitAdamW optimizer)
    {
        string folder = CheckpointFolder(path);
        if (!File.Exists(Path.Combine(folder, StateFile)))
            throw new FileNotFoundException($"ResumeFrom '{path}' is not a training checkpoint (no {StateFile}, and no 'latest' file naming one).", path);
        var state = JsonSerializer.Deserialize<LoopState>(File.ReadAllText(Path.Combine(folder, StateFile)))
            ?? throw new InvalidDataException($"{folder}/{StateFile} is empty.");
        if (state.BatchSize != options.BatchSize || state.AccumulationSteps != options.AccumulationSteps || state.Seed != seed)
            throw new ArgumentException(
                $"ResumeFrom '{folder}' was trained with BatchSize {state.BatchSize}, AccumulationSteps {state.AccumulationSteps} and seed {state.Seed}; " +
                $"this run has {options.BatchSize}, {options.AccumulationSteps} and {seed}. Resume with the same settings.");
        var weights = SafetensorsFile.Read(Path.Combine(folder, WeightsFile));
        try
        {
            BeitStateDict.Load(model, weights, folder);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        optimizer.Load(Path.Combine(folder, OptimizerFile));
        string bestPath = Path.Combine(folder, BestFile);
        var best = File.Exists(bestPath) ? SafetensorsFile.Read(bestPath) : null;
        channel.Info($"resumed from {folder} at epoch {state.Epoch + 1}, step {state.Step}");
        return (state, best);
    }
}
