using TorchSharp;

namespace Microsoft.ML.Beit.Training;

/// <summary>
/// The training curves as TensorBoard event files in <see cref="BeitTrainingOptions.LogDirectory"/>, written with TorchSharp's
/// <c>SummaryWriter</c>: one file per run (a resumed run adds one, continuing the steps), each scalar at its optimizer step.
/// </summary>
internal sealed class TensorBoardLog(string directory)
{
    /// <summary>The tags written, as TensorBoard shows them.</summary>
    public const string Loss = "train/loss", LearningRate = "train/learning_rate", ImagesPerSecond = "train/images_per_second",
        TrainingMetric = "train/metric", ValidationMetric = "validation/metric";

    readonly TorchSharp.Modules.SummaryWriter _writer = torch.utils.tensorboard.SummaryWriter(directory);

    /// <summary>An optimizer step: its loss, learning rate, throughput and the trainer's training metric, if any.</summary>
    public void Step(int step, double loss, double learningRate, double imagesPerSecond, double? trainingMetric)
    {
        Scalar(Loss, loss, step);
        Scalar(LearningRate, learningRate, step);
        Scalar(ImagesPerSecond, imagesPerSecond, step);
        if (trainingMetric is double metric) Scalar(TrainingMetric, metric, step);
    }

    /// <summary>The validation metric after an epoch, at the step it was reached.</summary>
    public void Validation(int step, double metric) => Scalar(ValidationMetric, metric, step);

    // A non-finite value (a skipped step's loss) is left out: TensorBoard's charts would lose their scale.
    void Scalar(string tag, double value, int step)
    {
        if (double.IsFinite(value)) _writer.add_scalar(tag, (float)value, step);
    }
}
