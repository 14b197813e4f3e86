using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Featurization;

/// <summary>
/// One row at a time (a batch of one), for <c>PredictionEngine</c> and other row-to-row consumers. The
/// feature vector is computed on first request for each input row and reused for repeated getter calls.
/// </summary>
internal sealed class BeitFeaturizerRowMapper : IRowToRowMapper
{
    readonly BeitFeaturizerTransformer _transformer;
    readonly DataViewSchema.Column _imageColumn;

    public BeitFeaturizerRowMapper(BeitFeaturizerTransformer transformer, DataViewSchema inputSchema)
    {
        _transformer = transformer;
        InputSchema = inputSchema;
        _imageColumn = ImageColumn.Find(inputSchema, transformer.InputColumnName);
        OutputSchema = transformer.GetOutputSchema(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var result = dependingColumns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (dependingColumns.Any(c => c.Index == OutputSchema.Count - 1) && result.All(c => c.Index != _imageColumn.Index))
            result.Add(_imageColumn);
        return result;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new Row(this, input, activeColumns.Any(c => c.Index == OutputSchema.Count - 1));

    sealed class Row(BeitFeaturizerRowMapper mapper, DataViewRow input, bool featuresActive) : DataViewRow
    {
        readonly Func<string, Preprocessing.RgbImage>? _readImage = featuresActive ? ImageColumn.Reader(input, mapper._imageColumn) : null;
        long _cachedPosition = -1;
        float[]? _cached;
        long _skipped;

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == mapper.OutputSchema.Count - 1 ? featuresActive : input.IsColumnActive(mapper.InputSchema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != mapper.OutputSchema.Count - 1)
                return input.GetGetter<TValue>(mapper.InputSchema[column.Index]);
            if (!featuresActive)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was made.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                if (_cached is null || _cachedPosition != input.Position)
                {
                    string where = $"row {input.Position} (column '{mapper._transformer.InputColumnName}')";
                    bool read = false;
                    bool MoveToTheOneRow() => !read && (read = true);
                    _cached = BeitFeaturizerBatch.Run(mapper._transformer, 1, MoveToTheOneRow, _ => _readImage!(where), _ => where, ref _skipped)[0];
                    _cachedPosition = input.Position;
                }
                var editor = VBufferEditor.Create(ref value, _cached.Length);
                _cached.CopyTo(editor.Values);
                value = editor.Commit();
            };
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds VBuffer<float>, not {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) BeitFeaturizerBatch.ReportSkipped(mapper._transformer.Host, _skipped);
            base.Dispose(disposing);
        }
    }
}
