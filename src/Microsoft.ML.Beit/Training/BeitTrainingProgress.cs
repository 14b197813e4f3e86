namespace Microsoft.ML.Beit;

/// <summary>Where a training run is, reported after every optimizer step and after each validation.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Epochs in the run.</param>
/// <param name="Step">Optimizer steps taken so far.</param>
/// <param name="TotalSteps">Optimizer steps in the run.</param>
/// <param name="Loss">Mean training loss over the last step's micro-batches.</param>
/// <param name="LearningRate">Peak learning rate at this step (before layer decay).</param>
/// <param name="ImagesPerSecond">Training throughput over the current epoch.</param>
/// <param name="ValidationMetric">The latest validation metric (accuracy for classification), if any.</param>
/// <param name="EstimatedTimeLeft">Estimated time to the end of the run.</param>
public sealed record BeitTrainingProgress(int Epoch, int Epochs, int Step, int TotalSteps, double Loss, double LearningRate,
    double ImagesPerSecond, double? ValidationMetric, TimeSpan EstimatedTimeLeft)
{
    /// <summary>A training metric over the last step's micro-batches (masked-token accuracy in pretraining), if the trainer has one.</summary>
    public double? TrainingMetric { get; init; }
}
