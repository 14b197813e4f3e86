using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Modeling;

/// <summary>
/// The learned relative position bias added to the attention scores: a table with one row per relative
/// offset between two patches (plus three rows for CLS-to-patch, patch-to-CLS and CLS-to-CLS) and
/// one column per head.
/// </summary>
public sealed class BeitRelativePositionBias : nn.Module
{
#pragma warning disable IDE1006 // Field names are the checkpoint's key segments.
    /// <summary>[(2Wh-1)(2Ww-1) + 3, heads] bias values.</summary>
    public readonly Parameter relative_position_bias_table;
#pragma warning restore IDE1006

    readonly long[] _index;
    readonly int _tokens;
    // The gather index is derived from the grid, never loaded or saved: kept as a long[] and materialised
    // lazily per device. (The Tensor field is null when RegisterComponents runs, so it is not registered
    // as a buffer; a lock guards it because ML.NET may score from several threads.)
    Tensor? _indexOnDevice;
    readonly object _indexLock = new();

    /// <summary>Builds the table for a <paramref name="gridHeight"/> x <paramref name="gridWidth"/> patch grid.</summary>
    public BeitRelativePositionBias(int gridHeight, int gridWidth, int numHeads) : base(nameof(BeitRelativePositionBias))
    {
        GridHeight = gridHeight;
        GridWidth = gridWidth;
        int rows = TableRows(gridHeight, gridWidth);
        relative_position_bias_table = new Parameter(zeros(rows, numHeads));
        _index = ComputeIndex(gridHeight, gridWidth);
        _tokens = gridHeight * gridWidth + 1;
        RegisterComponents();
    }

    /// <summary>Patches per column of the grid.</summary>
    public int GridHeight { get; }

    /// <summary>Patches per row of the grid.</summary>
    public int GridWidth { get; }

    /// <summary>Rows of the table for a grid: one per relative offset, plus 3 for the CLS token.</summary>
    public static int TableRows(int gridHeight, int gridWidth) => (2 * gridHeight - 1) * (2 * gridWidth - 1) + 3;

    /// <summary>
    /// The [(N+1) x (N+1)] table row for every (query, key) pair, row-major, token 0 being CLS:
    /// patch pairs index their offset, row 0 (CLS query) uses M-3, column 0 (CLS key) M-2, and [0, 0] M-1.
    /// </summary>
    public static long[] ComputeIndex(int gridHeight, int gridWidth)
    {
        int patches = gridHeight * gridWidth, tokens = patches + 1, rows = TableRows(gridHeight, gridWidth);
        var index = new long[tokens * tokens];
        for (int i = 0; i < patches; i++)
        {
            int yi = i / gridWidth, xi = i % gridWidth;
            for (int j = 0; j < patches; j++)
            {
                int yj = j / gridWidth, xj = j % gridWidth;
                index[(i + 1) * tokens + j + 1] = (yi - yj + gridHeight - 1) * (2 * gridWidth - 1) + (xi - xj + gridWidth - 1);
            }
        }
        for (int t = 1; t < tokens; t++)
        {
            index[t] = rows - 3;
            index[t * tokens] = rows - 2;
        }
        index[0] = rows - 1;
        return index;
    }

    /// <summary>The bias as [1, heads, N+1, N+1], the 4-D mask shape that keeps LibTorch on its fused attention path.</summary>
    public Tensor forward()
    {
        using var scope = NewDisposeScope();
        var table = relative_position_bias_table;
        Tensor index;
        lock (_indexLock)
        {
            if (_indexOnDevice is null || _indexOnDevice.device != table.device)
            {
                _indexOnDevice?.Dispose();
                _indexOnDevice = tensor(_index, device: table.device).DetachFromDisposeScope();
            }
            index = _indexOnDevice;
        }
        return table.index_select(0, index)
            .view(_tokens, _tokens, -1).permute(2, 0, 1).unsqueeze(0).contiguous()
            .MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _indexOnDevice?.Dispose();
        base.Dispose(disposing);
    }
}
