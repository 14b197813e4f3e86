// Helpers the notebooks share, loaded by each with `#load "helpers.csx"` after the Microsoft.ML.Beit package (SkiaSharp
// comes with it): the bundled Fashion-MNIST subset, and pictures as PNGs shown inline (they stay in the saved notebook,
// so it reads on GitHub). BEIT_NOTEBOOK_SMALL=1 (CI) picks fewer images and epochs.
// A loaded file sees none of the notebook's using directives: it names its own.
using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using static Microsoft.DotNet.Interactive.Kernel;
using SkiaSharp;

bool Small = Environment.GetEnvironmentVariable("BEIT_NOTEBOOK_SMALL") == "1";
string[] ClassNames = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"];
string FashionMnistFolder = Path.GetFullPath(Path.Combine("..", "data", "fashion-mnist"));
// The notebooks write their models under <temp>/beit-notebooks, so that each runs on its own.
Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "beit-notebooks"));

public class ImageRow
{
    public byte[] Image { get; set; } = [];
    public string Label { get; set; } = "";
}

byte[] Gunzip(string path)
{
    using var input = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var output = new MemoryStream();
    input.CopyTo(output);
    return output.ToArray();
}

byte[] Png(byte[] pixels, int width, int height, SKColorType type = SKColorType.Gray8)
{
    using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, type, SKAlphaType.Opaque), pixels, width * (type == SKColorType.Gray8 ? 1 : 4));
    using var png = image.Encode(SKEncodedImageFormat.Png, 100);
    return png.ToArray();
}

// Images skip .. skip + count - 1 of the bundled "train" (2,000) or "t10k" (500) split, as PNG bytes with class names.
List<ImageRow> LoadFashion(string kind, int count, int skip = 0)
{
    byte[] images = Gunzip(Path.Combine(FashionMnistFolder, $"{kind}-images-idx3-ubyte.gz"));
    byte[] labels = Gunzip(Path.Combine(FashionMnistFolder, $"{kind}-labels-idx1-ubyte.gz"));
    var rows = new List<ImageRow>();
    for (int i = skip; i < skip + count; i++)
        rows.Add(new ImageRow { Image = Png(images.AsSpan(16 + i * 784, 784).ToArray(), 28, 28), Label = ClassNames[labels[8 + i]] });
    return rows;
}

string Img(byte[] png, int width = 84) =>
    $"<img src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" width=\"{width}\" style=\"image-rendering: pixelated\"/>";

// A row of captioned pictures.
void ShowImages(IEnumerable<(string Caption, byte[] Png)> items, int width = 84) =>
    display(HTML("<table><tr>" + string.Concat(items.Select(i => $"<td style=\"text-align:center\">{Img(i.Png, width)}<br/>{i.Caption}</td>")) + "</tr></table>"));

// A line chart of one or more series (x = index), drawn with SkiaSharp.
void ShowLines(string title, params (string Name, IReadOnlyList<double> Values)[] series)
{
    const int W = 560, H = 280, L = 56, R = 16, T = 30, B = 34;
    SKColor[] colors = [new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40)];
    double low = series.SelectMany(s => s.Values).Min(), high = series.SelectMany(s => s.Values).Max();
    if (high <= low) high = low + 1;
    int n = series.Max(s => s.Values.Count);
    using var surface = SKSurface.Create(new SKImageInfo(W, H));
    var canvas = surface.Canvas;
    canvas.Clear(SKColors.White);
    using var axis = new SKPaint { Color = SKColors.Gray, StrokeWidth = 1, IsAntialias = true };
    using var text = new SKPaint { Color = SKColors.Black, TextSize = 13, IsAntialias = true };
    canvas.DrawLine(L, H - B, W - R, H - B, axis);
    canvas.DrawLine(L, T, L, H - B, axis);
    canvas.DrawText(title, L, 18, text);
    canvas.DrawText($"{high:G3}", 4, T + 5, text);
    canvas.DrawText($"{low:G3}", 4, H - B, text);
    canvas.DrawText($"{n}", W - R - 20, H - B + 16, text);
    for (int s = 0; s < series.Length; s++)
    {
        using var line = new SKPaint { Color = colors[s % colors.Length], StrokeWidth = 2, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var path = new SKPath();
        var v = series[s].Values;
        for (int i = 0; i < v.Count; i++)
        {
            float x = L + (float)(W - L - R) * (n == 1 ? 0 : i / (float)(n - 1)), y = T + (float)((high - v[i]) / (high - low) * (H - T - B));
            if (i == 0) path.MoveTo(x, y); else path.LineTo(x, y);
        }
        canvas.DrawPath(path, line);
        using var label = new SKPaint { Color = line.Color, TextSize = 13, IsAntialias = true };
        canvas.DrawText(series[s].Name, W - R - 150, T + 16 + 16 * s, label);
    }
    using var snapshot = surface.Snapshot();
    using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
    display(HTML(Img(png.ToArray(), W)));
}

// A matrix as a grid of shaded, numbered cells with row and column names (a confusion matrix).
void ShowMatrix(string title, IReadOnlyList<IReadOnlyList<double>> values, IReadOnlyList<string> rowNames, IReadOnlyList<string> columnNames)
{
    int cell = 34, left = 100, top = 110, n = values.Count, m = values[0].Count;
    double max = values.SelectMany(r => r).Max();
    using var surface = SKSurface.Create(new SKImageInfo(left + m * cell + 10, top + n * cell + 10));
    var canvas = surface.Canvas;
    canvas.Clear(SKColors.White);
    using var text = new SKPaint { Color = SKColors.Black, TextSize = 11, IsAntialias = true };
    canvas.DrawText(title, 4, 14, text);
    for (int j = 0; j < m; j++)
    {
        canvas.Save();
        canvas.Translate(left + j * cell + cell / 2 + 4, top - 4);
        canvas.RotateDegrees(-60);
        canvas.DrawText(columnNames[j], 0, 0, text);
        canvas.Restore();
    }
    for (int i = 0; i < n; i++)
    {
        canvas.DrawText(rowNames[i], 4, top + i * cell + cell / 2 + 4, text);
        for (int j = 0; j < m; j++)
        {
            byte shade = (byte)(255 - 200 * (max > 0 ? values[i][j] / max : 0));
            using var fill = new SKPaint { Color = new SKColor(shade, shade, 255) };
            canvas.DrawRect(left + j * cell, top + i * cell, cell - 1, cell - 1, fill);
            using var number = new SKPaint { Color = shade < 140 ? SKColors.White : SKColors.Black, TextSize = 11, IsAntialias = true };
            canvas.DrawText($"{values[i][j]:G3}", left + j * cell + 4, top + i * cell + cell / 2 + 4, number);
        }
    }
    using var snapshot = surface.Snapshot();
    using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
    display(HTML(Img(png.ToArray(), left + m * cell + 10)));
}

// Fails the cell (and a headless run) when a result is not what the notebook promises.
void Check(bool condition, string what)
{
    Console.WriteLine($"check: {what}: {(condition ? "ok" : "FAILED")}");
    if (!condition) throw new InvalidOperationException($"Check failed: {what}");
}

// Training progress, collected synchronously.
public class ProgressLog : IProgress<Microsoft.ML.Beit.BeitTrainingProgress>
{
    public List<Microsoft.ML.Beit.BeitTrainingProgress> Steps { get; } = [];
    public void Report(Microsoft.ML.Beit.BeitTrainingProgress value) { if (!double.IsNaN(value.Loss)) Steps.Add(value); }
}
