using Microsoft.ML.Beit;

namespace Beit.Trainer;

/// <summary>
/// One updating progress line on stderr per training run, and a line per validation. The first step is always shown,
/// so a resumed run says at once which step it continues from.
/// </summary>
internal sealed class ConsoleProgress(string metricName) : IProgress<BeitTrainingProgress>
{
    readonly System.Diagnostics.Stopwatch _sinceLastLine = System.Diagnostics.Stopwatch.StartNew();
    bool _shownAStep;

    public void Report(BeitTrainingProgress p)
    {
        if (p.ValidationMetric is double metric && double.IsNaN(p.Loss))
            Console.Error.WriteLine($"\repoch {p.Epoch}/{p.Epochs} validation {metricName} {metric:F4}                                        ");
        else if (!_shownAStep || p.Step == p.TotalSteps || _sinceLastLine.Elapsed.TotalSeconds >= 0.5)
        {
            _shownAStep = true;
            _sinceLastLine.Restart();
            Console.Error.Write($"\repoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}{(p.TrainingMetric is double m ? $" accuracy {m:F3}" : "")} lr {p.LearningRate:E2} {p.ImagesPerSecond:F0} images/s ETA {p.EstimatedTimeLeft:hh\\:mm\\:ss}   ");
        }
    }
}
