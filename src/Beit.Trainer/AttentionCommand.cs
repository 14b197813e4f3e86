using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Beit;
using Microsoft.ML.Beit.Preprocessing;

namespace Beit.Trainer;

/// <summary><c>beit attention</c>: the CLS token's self-attention over an image as a heatmap (the BEiT paper's figure).</summary>
internal static class AttentionCommand
{
    /// <summary>One image path.</summary>
    public sealed class ImageRow
    {
        /// <summary>The path.</summary>
        public string Path { get; set; } = "";
    }

    /// <summary>A features row.</summary>
    public sealed class AttentionRow
    {
        /// <summary>Heads x patches.</summary>
        public float[] Attention { get; set; } = [];
    }

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A checkpoint or a model zip written by this library.", Required = true };
        var image = new Option<string>("--image") { Description = "The image.", Required = true };
        var layer = new Option<int>("--layer") { Description = "Which block's attention (1..L, or -1 for the last).", DefaultValueFactory = _ => -1 };
        var head = new Option<int?>("--head") { Description = "One head (0-based); default the mean over heads." };
        var output = new Option<string>("--output") { Description = "The heatmap PNG.", DefaultValueFactory = _ => "attention.png" };
        var command = new Command("attention", "Render the CLS token's self-attention over an image as a heatmap PNG.") { model, image, layer, head, output };
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var ml = new MLContext(seed: 1);
            string path = parse.GetValue(image)!;
            var picture = RgbImage.Load(path);
            var data = ml.Data.LoadFromEnumerable([new ImageRow { Path = path }]);
            using var featurizer = ml.Transforms.BeitFeaturize("Attention", "Path", new BeitFeaturizerOptions
            {
                Model = BeitModelSource.FromPath(parse.GetValue(model)!),
                Pooling = BeitPooling.ClsAttention,
                Layer = parse.GetValue(layer),
                BatchSize = 1,
            }).Fit(data);
            var attention = ml.Data.CreateEnumerable<AttentionRow>(featurizer.Transform(data), false).Single().Attention;
            int heads = featurizer.ModelConfig.NumAttentionHeads;
            var map = BeitAttentionMaps.Head(attention, heads, parse.GetValue(head));
            BeitAttentionMaps.WritePng(parse.GetValue(output)!, picture, map);
            Console.WriteLine($"{heads} heads, {map.Length} patches; {(parse.GetValue(head) is int h ? $"head {h}" : "mean over heads")} written to {parse.GetValue(output)}");
        }));
        return command;
    }
}
