namespace Microsoft.ML.Beit.Tests;

/// <summary>The Fashion-MNIST subset the repository ships (samples/data/fashion-mnist), as PNG bytes and labels.</summary>
internal static class FashionMnist
{
    public static readonly string[] ClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    public sealed class Example
    {
        public byte[] Image { get; set; } = [];
        public string Label { get; set; } = "";
    }

    public static string Directory => FashionMnistIdx.FindBundledFolder();

    /// <summary>The first <paramref name="count"/> images of the training ("train") or test ("t10k") subset, PNG-encoded.</summary>
    public static List<Example> Load(string kind, int count)
    {
        var split = FashionMnistIdx.Read(Directory, kind);
        count = Math.Min(count, split.Count);
        var result = new List<Example>(count);
        for (int i = 0; i < count; i++)
            result.Add(new Example { Image = split.ItemPng(i), Label = ClassNames[split.Labels[i]] });
        return result;
    }
}
