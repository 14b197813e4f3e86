namespace Microsoft.ML.Beit.Training;

/// <summary>Row counting shared by the trainers (the schedule needs the number of steps before the first epoch).</summary>
internal static class DataViewRows
{
    /// <summary>Rows in the data: the view's own count when it knows it, else counted with a cursor that reads no column.</summary>
    public static int Count(IDataView data)
    {
        if (data.GetRowCount() is long known) return checked((int)known);
        int rows = 0;
        using var cursor = data.GetRowCursor([]);
        while (cursor.MoveNext()) rows++;
        return rows;
    }

    /// <summary>
    /// Rows shuffled together each epoch: data given as paths is cheap to hold, so it is shuffled whole; decoded or encoded
    /// images go through a pool of at least 1,000 rows (4 batches when that is more).
    /// </summary>
    public static int ShufflePool(IDataView input, string imageColumn, int rows, int batchSize) =>
        input.Schema[imageColumn].Type is Data.TextDataViewType ? Math.Max(rows, 1000) : Math.Max(1000, 4 * batchSize);
}
