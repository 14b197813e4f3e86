namespace Microsoft.ML.Beit.Search;

/// <summary>Holds out a validation split with each class in the same share as in the whole data, chosen by a seed.</summary>
internal static class StratifiedSplit
{
    /// <summary>Splits <paramref name="data"/> at random: round(<paramref name="fraction"/> x rows), at least one, go to validation.</summary>
    public static (IDataView Train, IDataView Validation) Split(IDataView data, double fraction, int seed)
    {
        int rows = Training.DataViewRows.Count(data);
        if (rows < 3) throw new ArgumentException($"The training data has {rows} rows, too few to hold out a validation split; pass a ValidationSet.");
        int take = Math.Clamp((int)Math.Round(fraction * rows), 1, rows - 2);
        var validation = new bool[rows];
        var random = new Random(seed);
        foreach (int row in Enumerable.Range(0, rows).OrderBy(_ => random.Next()).Take(take)) validation[row] = true;
        return (new RowSubsetDataView(data, [.. validation.Select(v => !v)]), new RowSubsetDataView(data, validation));
    }

    /// <summary>
    /// Splits <paramref name="data"/> by its key column <paramref name="labelColumn"/>: of each class's rows,
    /// round(<paramref name="fraction"/> x count) go to validation (at least one where a class has two or more rows).
    /// </summary>
    public static (IDataView Train, IDataView Validation) Split(IDataView data, string labelColumn, double fraction, int seed)
    {
        var rowsByClass = new Dictionary<uint, List<int>>();
        using (var cursor = data.GetRowCursor([data.Schema[labelColumn]]))
        {
            var getLabel = cursor.GetGetter<uint>(data.Schema[labelColumn]);
            uint key = 0;
            for (int row = 0; cursor.MoveNext(); row++)
            {
                getLabel(ref key);
                if (!rowsByClass.TryGetValue(key, out var rows)) rowsByClass[key] = rows = [];
                rows.Add(row);
            }
        }
        int total = rowsByClass.Values.Sum(r => r.Count);
        var validation = new bool[total];
        var random = new Random(seed);
        foreach (var (_, rows) in rowsByClass.OrderBy(p => p.Key))
        {
            int take = rows.Count < 2 ? 0 : Math.Max(1, (int)Math.Round(fraction * rows.Count));
            foreach (int row in rows.OrderBy(_ => random.Next()).Take(take)) validation[row] = true;
        }
        if (!validation.Contains(true))
            throw new ArgumentException($"The training data has too few rows per class to hold out a validation split of {fraction:P0}; pass a ValidationSet.");
        return (new RowSubsetDataView(data, [.. validation.Select(v => !v)]), new RowSubsetDataView(data, validation));
    }
}
