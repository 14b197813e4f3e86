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
}
