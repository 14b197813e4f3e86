using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// The input data plus a scorer's columns. Its cursor runs two input cursors over the same rows: one that
/// serves the passed-through columns at the current row, and one that reads only the image column up to a
/// batch ahead, so each forward pass covers a batch and no input value needs buffering. Memory stays flat
/// whatever the row count: one batch of images and outputs at a time.
/// </summary>
internal sealed class BeitScoredDataView : IDataView
{
    readonly IBeitImageScorer _scorer;
    readonly IDataView _input;
    readonly DataViewSchema.Column _imageColumn;

    public BeitScoredDataView(IBeitImageScorer scorer, IDataView input)
    {
        _scorer = scorer;
        _input = input;
        _imageColumn = ImageColumn.Find(input.Schema, scorer.InputColumnName);
        Schema = BeitScoring.OutputSchema(scorer, input.Schema);
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public long? GetRowCount() => _input.GetRowCount();

    int FirstOutput => _input.Schema.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        bool scores = needed.Any(c => c.Index >= FirstOutput);
        var passThrough = needed.Where(c => c.Index < FirstOutput).Select(c => _input.Schema[c.Index]).ToList();
        return new Cursor(this, _input.GetRowCursor(passThrough), scores ? _input.GetRowCursor([_imageColumn]) : null);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    sealed class Cursor : DataViewRowCursor
    {
        readonly BeitScoredDataView _view;
        readonly DataViewRowCursor _current;
        readonly DataViewRowCursor? _ahead;
        readonly Func<string, Preprocessing.RgbImage>? _readImage;
        readonly ValueGetter<DataViewRowId>? _aheadId, _currentId;
        readonly List<DataViewRowId> _batchIds = [];
        float[][] _batch = [];
        long _batchStart;
        long _skipped;
        bool _disposed;

        public Cursor(BeitScoredDataView view, DataViewRowCursor current, DataViewRowCursor? ahead)
        {
            _view = view;
            _current = current;
            _ahead = ahead;
            if (ahead is null) return;
            _readImage = ImageColumn.Reader(ahead, view._imageColumn);
            _aheadId = ahead.GetIdGetter();
            _currentId = current.GetIdGetter();
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _current.Position;

        public override long Batch => 0;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _current.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= _view.FirstOutput ? _ahead is not null : _current.IsColumnActive(_view._input.Schema[column.Index]);

        public override bool MoveNext()
        {
            if (_disposed || !_current.MoveNext()) return false;
            if (_ahead is null) return true;
            if (_current.Position >= _batchStart + _batch.Length)
                ReadBatch();
            // The scores were computed from a second cursor; they belong to this row only if both saw the same rows.
            DataViewRowId id = default;
            _currentId!(ref id);
            if (!id.Equals(_batchIds[(int)(_current.Position - _batchStart)]))
                throw new InvalidOperationException(
                    "The input data gave its rows in a different order to two cursors (for example ShuffleRows without a seed), so scores " +
                    "could land on the wrong rows. Make the order repeatable: give ShuffleRows a seed or cache the data (ml.Data.Cache).");
            return true;
        }

        void ReadBatch()
        {
            _batchStart = _current.Position;
            var scorer = _view._scorer;
            string Describe(int i) => $"row {_batchStart + i} (column '{scorer.InputColumnName}')";
            _batchIds.Clear();
            bool MoveAhead()
            {
                if (!_ahead!.MoveNext()) return false;
                DataViewRowId id = default;
                _aheadId!(ref id);
                _batchIds.Add(id);
                return true;
            }
            _batch = BeitScoringBatch.Run(scorer, scorer.BatchSize, MoveAhead, i => _readImage!(Describe(i)), Describe, ref _skipped);
            if (_batch.Length == 0)
                throw new InvalidOperationException("The image column ended before the other columns; the input data changed while it was read.");
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _view.FirstOutput)
                return _current.GetGetter<TValue>(_view._input.Schema[column.Index]);
            if (_ahead is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was made.");
            return BeitScoring.Getter<TValue>(_view._scorer.OutputColumns[column.Index - _view.FirstOutput],
                () => _batch[_current.Position - _batchStart]);
        }

        protected override void Dispose(bool disposing)
        {
            if (_disposed) return;
            _disposed = true;
            if (disposing)
            {
                _current.Dispose();
                _ahead?.Dispose();
                BeitScoringBatch.ReportSkipped(_view._scorer.Host, _skipped);
            }
            base.Dispose(disposing);
        }
    }
}
