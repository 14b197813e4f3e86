using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit.Search;

/// <summary>What a search left in its checkpoint folder that a resumed one needs before it starts.</summary>
internal static class TrainTimeSearch
{
    /// <summary>The file in the checkpoint folder that records the search.</summary>
    public const string StateFile = "search.json";

    /// <summary>
    /// The shell every trainer's <c>Fit</c> runs with <see cref="BeitTrainingOptions.TrainTime"/>: fixes the seed (a resumed
    /// search's, so that it splits and draws as before), holds out a validation split unless the options bring one, runs
    /// the search over <paramref name="fitOnce"/>, appends the leaderboard to the winner's recipe and converts the winner to
    /// <paramref name="backend"/> (with <paramref name="quantization"/>). <paramref name="fitOnce"/> trains one candidate and must score with TorchSharp.
    /// </summary>
    public static TModel FitWithinBudget<TOptions, TModel>(TOptions given, IDataView input, Runtime.IHost host, string channelName,
        Func<IDataView, int, (IDataView Train, IDataView Validation)> split, IReadOnlyList<SearchCandidate> candidates,
        Func<TOptions, IDataView, TModel> fitOnce, string metricName, BeitBackend backend,
        Onnx.BeitOnnxQuantization quantization)
        where TOptions : BeitTrainingOptions where TModel : Scoring.BeitImageTransformer
    {
        var o = (TOptions)given.CloneOptions();
        int seed = o.Seed ?? ResumedSeed(o.CheckpointDirectory ?? o.ResumeFrom) ?? host.Rand.Next();
        var train = input;
        if (o.ValidationSet is null) (train, o.ValidationSet) = split(input, seed);
        using var channel = host.Start(channelName);
        var search = new TrainTimeSearch<TModel>(o, candidates, channel, candidate => fitOnce((TOptions)candidate, train), metricName);
        var best = search.Run(seed);
        best.TrainingRecipe = best.TrainingRecipe + Environment.NewLine + search.Leaderboard;
        if (backend == BeitBackend.TorchSharp) return best;
        using (best) return (TModel)best.ToOnnxBackend(o.Device, o.Threads, quantization);
    }

    /// <summary>The seed of the search recorded in <paramref name="folder"/>, so that a resumed search splits and draws as before.</summary>
    public static int? ResumedSeed(string? folder)
    {
        string? file = folder is null ? null : Path.Combine(folder, StateFile);
        return file is not null && File.Exists(file) ? JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("Seed").GetInt32() : null;
    }
}

/// <summary>One setting of the search: a name, what it changes in the options, and those changes as text for the leaderboard.</summary>
internal sealed record SearchCandidate(string Name, string Settings, Action<BeitTrainingOptions> Apply);

/// <summary>
/// Training within a time budget (<see cref="BeitTrainingOptions.TrainTime"/>): one epoch measures the speed, the number of
/// epochs the winner can train follows from the budget, and successive halving (Jamieson and Talwalkar, 2016) trains every
/// candidate for the first ninth of that schedule, continues the best third to a third of it, and the best one to the end,
/// each from its own checkpoints. Every rung is recorded in <c>search.json</c> beside the checkpoints, so a killed search
/// resumes where it stopped. The budget also stops training: the best weights validated so far are the result.
/// </summary>
/// <remarks>
/// Candidates are settings applied to the trainer's options, the search space a sweepable estimator would take, so that an
/// AutoML tuner could replace the halving without touching the trainers.
/// </remarks>
internal sealed class TrainTimeSearch<TModel>(BeitTrainingOptions options, IReadOnlyList<SearchCandidate> candidates, IChannel channel,
    Func<BeitTrainingOptions, TModel> fit, string metricName) where TModel : class, IDisposable
{
    const string StateFile = TrainTimeSearch.StateFile;
    // A candidate stopped by the budget before its first validation scores minus infinity.
    static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    const int MaxEpochs = 300;

    sealed record RungResult(int Candidate, int Rung, int Epochs, double Metric, double Seconds);

    sealed class SearchState
    {
        public int Seed { get; set; }
        public double BudgetSeconds { get; set; }
        public double ElapsedSeconds { get; set; }
        public double? SecondsPerEpoch { get; set; }
        public double SecondsPerStart { get; set; }
        public int? RecipeEpochs { get; set; }
        public int? Epochs { get; set; }
        public List<int> Candidates { get; set; } = [];
        public List<int>? Rungs { get; set; }
        public bool Replanned { get; set; }
        public List<RungResult> Results { get; set; } = [];
    }

    /// <summary>The leaderboard of the finished search, as printed.</summary>
    public string Leaderboard { get; private set; } = "";

    /// <summary>Runs the search and returns the model with the best validation metric.</summary>
    public TModel Run(int seed)
    {
        double budget = options.TrainTime!.Value.TotalSeconds;
        string? given = options.CheckpointDirectory ?? options.ResumeFrom;
        string root = given ?? Path.Combine(Path.GetTempPath(), $"beit-search-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        string stateFile = Path.Combine(root, StateFile);
        var state = File.Exists(stateFile) ? JsonSerializer.Deserialize<SearchState>(File.ReadAllText(stateFile), Json)! : new SearchState { Seed = seed, BudgetSeconds = budget };
        if (state.Results.Count > 0 || state.SecondsPerEpoch is not null)
            channel.Info($"resuming the search in {root}: {state.ElapsedSeconds:F0} s of {state.BudgetSeconds:F0} s spent, {state.Results.Count} rung(s) done");
        var clock = Stopwatch.StartNew();
        double startElapsed = state.ElapsedSeconds;
        double Elapsed() => startElapsed + clock.Elapsed.TotalSeconds;
        void Save()
        {
            state.ElapsedSeconds = Elapsed();
            string temporary = stateFile + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(state, Json));
            File.Move(temporary, stateFile, overwrite: true);
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(Math.Max(0.001, state.BudgetSeconds - startElapsed)));
        TModel? bestModel = null;
        int bestCandidate = -1;
        double bestMetric = double.NegativeInfinity;
        try
        {
            if (state.SecondsPerEpoch is null)
            {
                (state.SecondsPerEpoch, state.SecondsPerStart, state.RecipeEpochs) = Measure(state.Seed, deadline.Token);
                Save();
            }
            if (state.Epochs is null)
            {
                (state.Epochs, state.Candidates) = Plan(state.BudgetSeconds * 0.95 - Elapsed(), state.SecondsPerEpoch.Value, state.SecondsPerStart,
                    state.RecipeEpochs ?? 1);
                Save();
                if (state.Candidates.Count == 1 && candidates.Count > 1)
                    channel.Info($"search: the budget fits the recipe's {state.RecipeEpochs} epochs only once, so the recipe alone trains, " +
                        $"for {state.Epochs} epochs; a budget of about {Math.Ceiling(SearchCost(state) / 60)} min would leave room to compare candidates");
            }
            int epochs = state.Epochs.Value;
            state.Rungs ??= RungEpochs(epochs, state.Candidates.Count);
            var rungs = state.Rungs;
            channel.Info($"search: {state.Candidates.Count} candidate(s), about {state.SecondsPerEpoch:F1} s an epoch, the best trains {epochs} epochs; " +
                $"rungs at epoch {string.Join(", ", rungs)}, {metricName} on the validation split decides");
            var alive = state.Candidates.ToList();
            for (int rung = 0; rung < rungs.Count && !deadline.IsCancellationRequested; rung++)
            {
                foreach (int candidate in alive)
                {
                    if (deadline.IsCancellationRequested) break;
                    if (state.Results.Any(r => r.Candidate == candidate && r.Rung == rung)) continue;
                    var started = clock.Elapsed;
                    var (model, metric) = Train(candidate, epochs, rungs[rung], root, state.Seed, rung > 0 || candidate != state.Candidates[0], deadline.Token);
                    double best = Math.Max(metric, BestOf(state, candidate));
                    int trained = TrainedEpochs(root, candidate, rungs[rung]);
                    state.Results.Add(new RungResult(candidate, rung, trained, best, (clock.Elapsed - started).TotalSeconds));
                    Save();
                    // Only the best model so far stays in memory; a later one that validates as well replaces it (it trained longer).
                    if (bestModel is null || best >= bestMetric)
                    {
                        bestModel?.Dispose();
                        (bestModel, bestCandidate, bestMetric) = (model, candidate, best);
                    }
                    else model.Dispose();
                }
                int keep = rung + 1 < rungs.Count ? Math.Max(1, alive.Count / 3) : alive.Count;
                alive = [.. alive.OrderByDescending(c => BestOf(state, c)).ThenBy(c => c).Take(keep)];
                if (rung == 0 && rungs.Count > 1 && !state.Replanned && !deadline.IsCancellationRequested)
                {
                    // The first rung timed every candidate for real: stretch (or shorten) the rest of the schedule to the budget left.
                    (epochs, rungs) = Replan(state, rungs, alive.Count, state.BudgetSeconds * 0.95 - Elapsed());
                    (state.Epochs, state.Rungs, state.Replanned) = (epochs, rungs, true);
                    Save();
                    channel.Info($"search: the first rung took {state.Results.Sum(r => r.Seconds):F0} s; the best now trains {epochs} epochs, rungs at epoch {string.Join(", ", rungs)}");
                }
            }
            if (state.Results.Count == 0)
                throw new OperationCanceledException("The search was stopped before any candidate finished a rung.");
            double top = state.Results.Max(r => r.Metric);
            int winner = bestModel is not null && bestMetric >= top ? bestCandidate : state.Results.First(r => r.Metric == top).Candidate;
            if (winner != bestCandidate || bestModel is null)
            {
                // The winner's weights are in its checkpoints (a resumed search): load them without training further.
                bestModel?.Dispose();
                bestModel = null;
                bestModel = Reload(winner, epochs, root, state);
            }
            Leaderboard = Describe(state, winner, rungs);
            channel.Info(Leaderboard);
            var result = bestModel;
            bestModel = null;
            return result;
        }
        finally
        {
            bestModel?.Dispose();
            if (given is null) TryDelete(root);
        }
    }

    // Two epochs of the first candidate, timed, with validation as every rung has it; the model is thrown away. The second
    // epoch gives the steady time of an epoch, the rest what every start of a rung costs (building the model, the first steps).
    // The probe keeps the epochs the recipe (or the caller) asks for, so that its progress tells how long a schedule that is.
    (double SecondsPerEpoch, double SecondsPerStart, int RecipeEpochs) Measure(int seed, CancellationToken token)
    {
        var probe = Configure(0, epochs: options.Epochs, stopAfter: 2, checkpoints: null, seed, quiet: true, token);
        var clock = Stopwatch.StartNew();
        var validated = new List<double>();
        int recipeEpochs = 1;
        probe.Progress = new ProgressTap(p =>
        {
            recipeEpochs = p.Epochs;
            if (p.ValidationMetric is not null && p.Loss is double.NaN) validated.Add(clock.Elapsed.TotalSeconds);
        });
        using (fit(probe)) { }
        double total = clock.Elapsed.TotalSeconds;
        double epoch = validated.Count == 2 ? validated[1] - validated[0] : total / 2;
        return (Math.Max(epoch, 1e-3), Math.Max(0, total - 2 * epoch), recipeEpochs);
    }

    // The most epochs the winner can train within what is left, and how many candidates fit beside it. Candidates are compared
    // only when the winner still trains at least the recipe's schedule: on a budget that fits it about once (training from
    // random weights wants many epochs), a comparison would cut every candidate short and cost more than it finds.
    (int Epochs, List<int> Candidates) Plan(double seconds, double secondsPerEpoch, double secondsPerStart, int recipeEpochs)
    {
        foreach (int count in new[] { candidates.Count, Math.Min(3, candidates.Count), 1 }.Distinct())
        {
            for (int epochs = MaxEpochs; epochs >= 1; epochs--)
            {
                var rungs = RungEpochs(epochs, count);
                var (epochsInAll, starts) = Cost(rungs, count);
                if (rungs[0] < 1 || epochsInAll * secondsPerEpoch + starts * secondsPerStart > seconds) continue;
                if (count > 1 && (rungs[0] < 2 || epochs < recipeEpochs)) break;
                return (epochs, [.. Enumerable.Range(0, count)]);
            }
        }
        return (1, [0]);
    }

    // Seconds a search of the three most promising candidates would need to train the winner for the recipe's schedule.
    double SearchCost(SearchState state)
    {
        int count = Math.Min(3, candidates.Count), epochs = Math.Max(2 * count, state.RecipeEpochs ?? 1);
        var (epochsInAll, starts) = Cost(RungEpochs(epochs, count), count);
        return epochsInAll * state.SecondsPerEpoch!.Value + (starts + 1) * state.SecondsPerStart + 2 * state.SecondsPerEpoch.Value;
    }

    // The longest schedule whose remaining rungs fit in the seconds left, at the first rung's measured seconds per epoch.
    static (int Epochs, List<int> Rungs) Replan(SearchState state, List<int> rungs, int survivors, double seconds)
    {
        double perEpoch = state.Results.Sum(r => r.Seconds) / Math.Max(1, state.Results.Sum(r => r.Epochs));
        int first = rungs[0];
        for (int epochs = MaxEpochs; epochs > first; epochs--)
        {
            List<int> planned = rungs.Count == 2 ? [first, epochs] : [first, Math.Max(first + 1, epochs / 3), epochs];
            if (planned[^2] >= planned[^1]) continue;
            double cost = rungs.Count == 2 ? survivors * (epochs - first) : survivors * (planned[1] - first) + (epochs - planned[1]);
            if (cost * perEpoch <= seconds) return (epochs, planned);
        }
        return (state.Epochs!.Value, rungs);
    }

    // Epochs at the end of each rung: a ninth and a third of the schedule, then all of it (fewer rungs for fewer candidates).
    static List<int> RungEpochs(int epochs, int count) => count switch
    {
        1 => [epochs],
        <= 3 => [Math.Max(1, epochs / 3), epochs],
        _ => [Math.Max(1, epochs / 9), Math.Max(1, epochs / 3), epochs],
    };

    // Epochs trained in all, and rung starts: every candidate to the first rung, a third of them to the next, one to the end.
    static (double Epochs, int Starts) Cost(List<int> rungs, int count)
    {
        double total = 0;
        int alive = count, previous = 0, starts = 0;
        foreach (int end in rungs)
        {
            total += alive * (end - previous);
            starts += alive;
            previous = end;
            alive = Math.Max(1, alive / 3);
        }
        return (total, starts);
    }

    (TModel Model, double Metric) Train(int candidate, int epochs, int stopAfter, string root, int seed, bool quiet, CancellationToken token)
    {
        string folder = Path.Combine(root, $"candidate-{candidate}");
        var o = Configure(candidate, epochs, stopAfter, folder, seed, quiet, token);
        double best = double.NegativeInfinity;
        var report = o.Progress;
        o.Progress = new ProgressTap(p =>
        {
            if (p.ValidationMetric is double metric && p.Loss is double.NaN) best = Math.Max(best, metric);
            report?.Report(p);
        });
        channel.Info($"search: candidate {candidate} ({candidates[candidate].Settings}) to epoch {stopAfter}");
        var model = fit(o);
        return (model, best);
    }

    TModel Reload(int candidate, int epochs, string root, SearchState state)
    {
        int trained = state.Results.Where(r => r.Candidate == candidate).Max(r => r.Epochs);
        var o = Configure(candidate, epochs, trained, Path.Combine(root, $"candidate-{candidate}"), state.Seed, quiet: true, CancellationToken.None);
        return fit(o);
    }

    BeitTrainingOptions Configure(int candidate, int? epochs, int stopAfter, string? checkpoints, int seed, bool quiet, CancellationToken token)
    {
        var o = options.CloneOptions();
        candidates[candidate].Apply(o);
        o.TrainTime = null;
        o.Epochs = epochs;
        o.StopAfterEpoch = stopAfter;
        o.Seed = seed;
        o.QuietRecipe = quiet;
        o.CheckpointDirectory = checkpoints;
        o.LogDirectory = options.LogDirectory is { } logs ? Path.Combine(logs, $"candidate-{candidate}") : null;
        o.ResumeFrom = checkpoints is not null && File.Exists(Path.Combine(checkpoints, "latest")) ? checkpoints : null;
        o.CancellationToken = token;
        o.ReturnModelWhenCancelled = true;
        return o;
    }

    static double BestOf(SearchState state, int candidate) =>
        state.Results.Where(r => r.Candidate == candidate).Select(r => r.Metric).DefaultIfEmpty(double.NegativeInfinity).Max();

    // The epochs a candidate's checkpoints have reached (less than the rung's end when the budget stopped it).
    static int TrainedEpochs(string root, int candidate, int rungEnd)
    {
        string folder = Path.Combine(root, $"candidate-{candidate}");
        string latest = Path.Combine(folder, "latest");
        if (!File.Exists(latest)) return rungEnd;
        string name = File.ReadAllText(latest).Trim();
        int at = name.LastIndexOf("epoch-", StringComparison.Ordinal);
        return at >= 0 && int.TryParse(name[(at + 6)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch) ? epoch : rungEnd;
    }

    string Describe(SearchState state, int winner, List<int> rungs)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"search leaderboard ({metricName} on the validation split, budget {state.BudgetSeconds:F0} s, {Elapsed(state):F0} s used):");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"",-2}{"candidate",-10}{"epochs",8}{metricName,12}{"seconds",9}  settings");
        foreach (var group in state.Results.GroupBy(r => r.Candidate).OrderByDescending(g => g.Max(r => r.Metric)).ThenBy(g => g.Key))
        {
            var last = group.OrderBy(r => r.Rung).Last();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"  {(group.Key == winner ? "*" : ""),-2}{group.Key,-10}{last.Epochs,8}{group.Max(r => r.Metric),12:F4}{group.Sum(r => r.Seconds),9:F0}  {candidates[group.Key].Settings}");
        }
        text.Append(CultureInfo.InvariantCulture, $"  * the model: candidate {winner}, rungs at epoch {string.Join(", ", rungs)}");
        return text.ToString();
    }

    static double Elapsed(SearchState state) => state.ElapsedSeconds;

    static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temporary folder left behind costs disk space, not the result.
        }
    }

    sealed class ProgressTap(Action<BeitTrainingProgress> report) : IProgress<BeitTrainingProgress>
    {
        public void Report(BeitTrainingProgress value) => report(value);
    }
}
