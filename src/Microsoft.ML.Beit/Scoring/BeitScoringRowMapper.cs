using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// One row at a time (a batch of one), for <c>PredictionEngine</c> and other row-to-row consumers. The
/// scores are computed on first request for each input row and shared by the output columns' getters.
/// </summary>
internal sealed class BeitScoringRowMapper : IRowToRowMapper
{
    readonly IBeitImageScorer _scorer;
    readonly DataViewSchema.Column _imageColumn;

    public BeitScoringRowMapper(IBeitImageScorer scorer, DataViewSchema inputSchema)
    {
        _scorer = scorer;
        InputSchema = inputSchema;
        _imageColumn = ImageColumn.Find(inputSchema, scorer.InputColumnName);
        OutputSchema = BeitScoring.OutputSchema(scorer, inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var result = dependingColumns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (dependingColumns.Any(c => c.Index >= InputSchema.Count) && result.All(c => c.Index != _imageColumn.Index))
            result.Add(_imageColumn);
        return result;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new Row(this, input, activeColumns.Any(c => c.Index >= InputSchema.Count));

    sealed class Row(BeitScoringRowMapper mapper, DataViewRow input, bool scoresActive) : DataViewRow
    {
        readonly Func<string, Preprocessing.RgbImage>? _readImage = scoresActive ? ImageColumn.Reader(input, mapper._imageColumn) : null;
        long _cachedPosition = -1;
        float[]? _cached;
        long _skipped;

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= mapper.InputSchema.Count ? scoresActive : input.IsColumnActive(mapper.InputSchema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < mapper.InputSchema.Count)
                return input.GetGetter<TValue>(mapper.InputSchema[column.Index]);
            if (!scoresActive)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was made.");
            return BeitScoring.Getter<TValue>(mapper._scorer.OutputColumns[column.Index - mapper.InputSchema.Count], Current);
        }

        float[] Current()
        {
            if (_cached is null || _cachedPosition != input.Position)
            {
                string where = $"row {input.Position} (column '{mapper._scorer.InputColumnName}')";
                bool read = false;
                bool MoveToTheOneRow() => !read && (read = true);
                _cached = BeitScoringBatch.Run(mapper._scorer, 1, MoveToTheOneRow, _ => _readImage!(where), _ => where, ref _skipped)[0];
                _cachedPosition = input.Position;
            }
            return _cached;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) BeitScoringBatch.ReportSkipped(mapper._scorer.Host, _skipped);
            base.Dispose(disposing);
        }
    }
}
