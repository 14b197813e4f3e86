using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Beit.Preprocessing;

/// <summary>
/// How images become <c>pixel_values</c>: a Hugging Face <c>preprocessor_config.json</c>
/// (<c>BeitImageProcessor</c>, or the older <c>BeitFeatureExtractor</c> whose sizes are plain numbers).
/// A new instance holds the pt22k checkpoints' settings: squash-resize to 224x224 bilinear, no crop,
/// divide by 255, normalise with mean 0.5 and std 0.5. Fields missing from a JSON file take
/// Hugging Face <c>BeitImageProcessor</c>'s defaults (resize to 256x256 bicubic, center-crop 224).
/// </summary>
public sealed class BeitPreprocessorConfig
{
    /// <summary>Whether to resize. Default true.</summary>
    public bool DoResize { get; set; } = true;

    /// <summary>Resize target height in pixels (with <see cref="ResizeWidth"/>); ignored when <see cref="ShortestEdge"/> is set. Default 224.</summary>
    public int ResizeHeight { get; set; } = 224;

    /// <summary>Resize target width in pixels. Default 224.</summary>
    public int ResizeWidth { get; set; } = 224;

    /// <summary>When set, resize so that the shorter side has this length, keeping the aspect ratio. Default none.</summary>
    public int? ShortestEdge { get; set; }

    /// <summary>Resampling filter (Pillow numbering). Default <see cref="BeitResample.Bilinear"/>.</summary>
    public BeitResample Resample { get; set; } = BeitResample.Bilinear;

    /// <summary>Whether to take a center crop after resizing. Default false.</summary>
    public bool DoCenterCrop { get; set; }

    /// <summary>Crop height in pixels. Default 224.</summary>
    public int CropHeight { get; set; } = 224;

    /// <summary>Crop width in pixels. Default 224.</summary>
    public int CropWidth { get; set; } = 224;

    /// <summary>Whether to multiply by <see cref="RescaleFactor"/>. Default true.</summary>
    public bool DoRescale { get; set; } = true;

    /// <summary>Scale applied to the uint8 values. Default 1/255.</summary>
    public double RescaleFactor { get; set; } = 1.0 / 255;

    /// <summary>Whether to normalise with <see cref="ImageMean"/> and <see cref="ImageStd"/>. Default true.</summary>
    public bool DoNormalize { get; set; } = true;

    /// <summary>Per-channel (RGB) mean. Default [0.5, 0.5, 0.5].</summary>
    public float[] ImageMean { get; set; } = [0.5f, 0.5f, 0.5f];

    /// <summary>Per-channel (RGB) standard deviation. Default [0.5, 0.5, 0.5].</summary>
    public float[] ImageStd { get; set; } = [0.5f, 0.5f, 0.5f];

    /// <summary>The pt22k checkpoints' settings for a square input of <paramref name="imageSize"/> pixels.</summary>
    public static BeitPreprocessorConfig Pt22k(int imageSize = 224) => new() { ResizeHeight = imageSize, ResizeWidth = imageSize, CropHeight = imageSize, CropWidth = imageSize };

    /// <summary>The size of the images this config produces, or null when it depends on the input (shortest-edge resize without a crop).</summary>
    public (int Height, int Width)? OutputSize =>
        DoCenterCrop ? (CropHeight, CropWidth)
        : !DoResize || ShortestEdge is not null ? null
        : (ResizeHeight, ResizeWidth);

    /// <summary>Reads a <c>preprocessor_config.json</c> file.</summary>
    public static BeitPreprocessorConfig Load(string path) => FromJson(File.ReadAllText(path), path);

    /// <summary>Parses <c>preprocessor_config.json</c> text.</summary>
    /// <exception cref="InvalidDataException">A field has a value this library cannot use; the message names it.</exception>
    public static BeitPreprocessorConfig FromJson(string json, string source = "preprocessor_config.json")
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source} is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
        }
        try
        {
            var config = new BeitPreprocessorConfig
            {
                DoResize = root["do_resize"]?.GetValue<bool>() ?? true,
                Resample = (BeitResample)(root["resample"]?.GetValue<int>() ?? (int)BeitResample.Bicubic),
                DoCenterCrop = root["do_center_crop"]?.GetValue<bool>() ?? true,
                DoRescale = root["do_rescale"]?.GetValue<bool>() ?? true,
                RescaleFactor = root["rescale_factor"]?.GetValue<double>() ?? 1.0 / 255,
                DoNormalize = root["do_normalize"]?.GetValue<bool>() ?? true,
                ImageMean = Channels(root["image_mean"], 0.5f),
                ImageStd = Channels(root["image_std"], 0.5f),
            };
            (config.ResizeHeight, config.ResizeWidth, config.ShortestEdge) = Size(root["size"], 256);
            (config.CropHeight, config.CropWidth, _) = Size(root["crop_size"], 224);
            config.Validate(source);
            return config;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>The config as Hugging Face <c>preprocessor_config.json</c> text (<c>BeitImageProcessor</c> form).</summary>
    public string ToJson()
    {
        var root = new JsonObject
        {
            ["image_processor_type"] = "BeitImageProcessor",
            ["do_resize"] = DoResize,
            ["size"] = ShortestEdge is int edge ? new JsonObject { ["shortest_edge"] = edge } : new JsonObject { ["height"] = ResizeHeight, ["width"] = ResizeWidth },
            ["resample"] = (int)Resample,
            ["do_center_crop"] = DoCenterCrop,
            ["crop_size"] = new JsonObject { ["height"] = CropHeight, ["width"] = CropWidth },
            ["do_rescale"] = DoRescale,
            ["rescale_factor"] = RescaleFactor,
            ["do_normalize"] = DoNormalize,
            ["image_mean"] = new JsonArray(ImageMean.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
            ["image_std"] = new JsonArray(ImageStd.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Checks the values.</summary>
    /// <exception cref="InvalidDataException">A value is out of range.</exception>
    public void Validate(string source = "preprocessor config")
    {
        if (!Enum.IsDefined(Resample))
            throw new InvalidDataException($"{source}: resample {(int)Resample} is not supported; use 2 (bilinear) or 3 (bicubic), or 1, 4, 5.");
        if (ResizeHeight < 1 || ResizeWidth < 1 || CropHeight < 1 || CropWidth < 1 || ShortestEdge is < 1)
            throw new InvalidDataException($"{source}: sizes must be positive.");
        if (ImageMean.Length != 3 || ImageStd.Length != 3 || ImageStd.Any(s => s == 0))
            throw new InvalidDataException($"{source}: image_mean and image_std need 3 values (RGB), and std cannot be 0.");
    }

    // "size": 224 | {"height": h, "width": w} | {"shortest_edge": s}
    static (int Height, int Width, int? ShortestEdge) Size(JsonNode? node, int fallback) => node switch
    {
        null => (fallback, fallback, null),
        JsonValue v => (v.GetValue<int>(), v.GetValue<int>(), null),
        JsonObject o when o["shortest_edge"] is { } s => (s.GetValue<int>(), s.GetValue<int>(), s.GetValue<int>()),
        JsonObject o => (o["height"]?.GetValue<int>() ?? throw new FormatException("a size needs 'height' and 'width'"),
                         o["width"]?.GetValue<int>() ?? throw new FormatException("a size needs 'height' and 'width'"), null),
        JsonArray a when a.Count == 2 => (a[0]!.GetValue<int>(), a[1]!.GetValue<int>(), null),
        _ => throw new FormatException($"size {node.ToJsonString()} is not a number, [height, width] or an object"),
    };

    static float[] Channels(JsonNode? node, float fallback) => node switch
    {
        null => [fallback, fallback, fallback],
        JsonValue v => [v.GetValue<float>(), v.GetValue<float>(), v.GetValue<float>()],
        JsonArray a => a.Select(x => x!.GetValue<float>()).ToArray(),
        _ => throw new FormatException($"{node.ToJsonString()} is not a number or a list of numbers"),
    };
}
