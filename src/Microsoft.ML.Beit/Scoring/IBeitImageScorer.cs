using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// What a BEiT transformer scores: images in, one float row per image out, shown as one or more output
/// columns. The batched data view and the one-row mapper serve any such scorer (featurizer, classifier, ...).
/// </summary>
internal interface IBeitImageScorer
{
    /// <summary>The image column read.</summary>
    string InputColumnName { get; }

    /// <summary>Images per forward pass.</summary>
    int BatchSize { get; }

    /// <summary>What happens to unreadable images.</summary>
    BeitInvalidImageHandling InvalidImage { get; }

    /// <summary>For warnings.</summary>
    IHost Host { get; }

    /// <summary>Floats per image in <see cref="Score"/>'s rows (a skipped image's row is all NaN).</summary>
    int RowSize { get; }

    /// <summary>The columns added after the input columns, in order.</summary>
    IReadOnlyList<ScoredColumn> OutputColumns { get; }

    /// <summary>One row of <see cref="RowSize"/> floats per image, from one forward pass.</summary>
    float[][] Score(IReadOnlyList<RgbImage> images);
}

/// <summary>An output column of a scorer.</summary>
/// <param name="Name">Column name.</param>
/// <param name="Type">Column type.</param>
/// <param name="Annotations">Annotations (slot names, key values, score kinds), or null.</param>
/// <param name="MakeGetter">Makes the column's getter (a <c>ValueGetter&lt;T&gt;</c>) from a function returning the current row's floats.</param>
internal sealed record ScoredColumn(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations, Func<Func<float[]>, Delegate> MakeGetter)
{
    /// <summary>A float-vector column showing the whole row.</summary>
    public static ScoredColumn Vector(string name, int size, DataViewSchema.Annotations? annotations = null) =>
        new(name, new VectorDataViewType(NumberDataViewType.Single, size), annotations, current =>
            (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
            {
                var row = current();
                var editor = VBufferEditor.Create(ref value, row.Length);
                row.CopyTo(editor.Values);
                value = editor.Commit();
            }));
}

/// <summary>Schema helpers shared by the scored data view and the row mapper.</summary>
internal static class BeitScoring
{
    /// <summary>The input schema followed by the scorer's columns (which hide input columns of the same name).</summary>
    public static DataViewSchema OutputSchema(IBeitImageScorer scorer, DataViewSchema inputSchema)
    {
        ImageColumn.Find(inputSchema, scorer.InputColumnName);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var column in scorer.OutputColumns)
            builder.AddColumn(column.Name, column.Type, column.Annotations);
        return builder.ToSchema();
    }

    /// <summary>The getter of an output column, checked against the type the caller asked for.</summary>
    public static ValueGetter<TValue> Getter<TValue>(ScoredColumn column, Func<float[]> current) =>
        column.MakeGetter(current) as ValueGetter<TValue>
        ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type.RawType.Name}, not {typeof(TValue).Name}.");
}
