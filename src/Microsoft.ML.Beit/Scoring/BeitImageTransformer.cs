using System.Text.Json.Nodes;
using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Preprocessing;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Scoring;

/// <summary>
/// What every BEiT transformer shares: batched scoring of an image column into added columns, one-row scoring for
/// <c>PredictionEngine</c>, and the model-zip layout (settings as JSON, weights as a safetensors entry).
/// </summary>
public abstract class BeitImageTransformer : ITransformer, IDisposable, IBeitImageScorer
{
    const string WeightsEntry = "BeitWeights";

    private protected BeitImageTransformer(IHostEnvironment env, string name, string inputColumnName, int batchSize, BeitInvalidImageHandling invalidImage)
    {
        Host = env.Register(name);
        InputColumnName = inputColumnName;
        BatchSize = batchSize;
        InvalidImage = invalidImage;
    }

    /// <summary>The image column read.</summary>
    public string InputColumnName { get; }

    /// <summary>Images per forward pass.</summary>
    public int BatchSize { get; }

    /// <summary>What happens to unreadable images.</summary>
    public BeitInvalidImageHandling InvalidImage { get; }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    private protected IHost Host { get; }

    IHost IBeitImageScorer.Host => Host;
    int IBeitImageScorer.RowSize => RowSize;
    IReadOnlyList<ScoredColumn> IBeitImageScorer.OutputColumns => OutputColumns;
    float[][] IBeitImageScorer.Score(IReadOnlyList<RgbImage> images) => Score(images);

    private protected abstract int RowSize { get; }
    private protected abstract IReadOnlyList<ScoredColumn> OutputColumns { get; }
    private protected abstract float[][] Score(IReadOnlyList<RgbImage> images);

    /// <summary>The model whose weights the zip stores.</summary>
    private protected abstract nn.Module Model { get; }

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => BeitScoring.OutputSchema(this, inputSchema);

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => new BeitScoredDataView(this, input);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new BeitScoringRowMapper(this, inputSchema);

    /// <summary>Frees the model's native memory.</summary>
    public abstract void Dispose();

    /// <summary>Writes the version, <paramref name="settings"/> and the model's weights.</summary>
    private protected void SaveModel(ModelSaveContext ctx, VersionInfo version, JsonObject settings)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(version);
        ctx.Writer.Write(settings.ToJsonString());
        ctx.SaveBinaryStream(WeightsEntry, writer =>
        {
            using var scope = NewDisposeScope();
            SafetensorsFile.Write(writer.BaseStream, Model.state_dict());
        });
    }

    /// <summary>Reads the version and the settings written by <see cref="SaveModel"/>.</summary>
    private protected static JsonObject LoadSettings(ModelLoadContext ctx, VersionInfo version)
    {
        ctx.CheckAtModel(version);
        return JsonNode.Parse(ctx.Reader.ReadString())!.AsObject();
    }

    /// <summary>The weights written by <see cref="SaveModel"/>; the caller owns them.</summary>
    private protected static Dictionary<string, Tensor> LoadWeights(ModelLoadContext ctx) => ModelZipWeights.Read(ctx, WeightsEntry);

    void ICanSaveModel.Save(ModelSaveContext ctx) => Save(ctx);

    private protected abstract void Save(ModelSaveContext ctx);
}
