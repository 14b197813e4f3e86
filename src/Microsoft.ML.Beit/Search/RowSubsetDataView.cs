using Microsoft.ML.Data;

namespace Microsoft.ML.Beit.Search;

/// <summary>
/// The rows of a data view whose positions a mask keeps, in order; columns and getters are the source's. Lets a trainer
/// hold out a validation split without copying the data.
/// </summary>
internal sealed class RowSubsetDataView(IDataView source, bool[] keep) : IDataView
{
    readonly int _count = keep.Count(k => k);

    public bool CanShuffle => false;

    public DataViewSchema Schema => source.Schema;

    public long? GetRowCount() => _count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(source.GetRowCursor(columnsNeeded), keep);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    sealed class Cursor(DataViewRowCursor inner, bool[] keep) : DataViewRowCursor
    {
        long _sourceRow = -1, _position = -1;

        public override DataViewSchema Schema => inner.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            while (inner.MoveNext())
            {
                _sourceRow++;
                if (_sourceRow < keep.Length && keep[_sourceRow])
                {
                    _position++;
                    return true;
                }
            }
            return false;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);
        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
