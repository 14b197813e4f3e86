using System.CommandLine;
using Microsoft.ML.Beit;

namespace Beit.Trainer;

/// <summary>
/// The flags of <see cref="BeitFinetuneOptions"/> beyond the shared training ones: the head, the augmentation and the input
/// size, named after the options in kebab case. A flag left out leaves its option to the recipe.
/// </summary>
internal sealed class ClassifierFlags
{
    public readonly Option<double?> LabelSmoothing = new("--label-smoothing") { Description = "Label smoothing of the loss (default: the recipe's, 0.1)." };
    public readonly Option<double?> HeadInitScale = new("--head-init-scale") { Description = "Scale of a new head's initial weights (default: the recipe's)." };
    public readonly Option<bool?> Augment = new("--augment") { Description = "Augment training images: true or false (default: the recipe's, true)." };
    public readonly Option<double?> MinCropScale = new("--min-crop-scale") { Description = "Smallest random crop, as a fraction of the image area (default: the recipe's)." };
    public readonly Option<double?> HorizontalFlip = new("--horizontal-flip") { Description = "Probability of a horizontal flip (default: the recipe's, 0.5)." };
    public readonly Option<int?> RandAugmentLayers = new("--rand-augment-layers") { Description = "RandAugment operations per image, 0 for none (default: the recipe's)." };
    public readonly Option<double?> RandAugmentMagnitude = new("--rand-augment-magnitude") { Description = "RandAugment magnitude, 0 to 10 (default: the recipe's)." };
    public readonly Option<double?> RandomErasing = new("--random-erasing") { Description = "Probability of erasing a random box (default: the recipe's)." };
    public readonly Option<double> MixupAlpha = new("--mixup-alpha") { Description = "Mixup Beta(alpha, alpha); 0 turns it off.", DefaultValueFactory = _ => 0 };
    public readonly Option<double> CutmixAlpha = new("--cutmix-alpha") { Description = "Cutmix Beta(alpha, alpha); 0 turns it off.", DefaultValueFactory = _ => 0 };
    public readonly Option<int?> ImageSize = new("--image-size") { Description = "Input size of a new model (default: the recipe's, from the images' size)." };
    public readonly Option<int?> PatchSize = new("--patch-size") { Description = "Patch size of a new model from a preset (default: the recipe's)." };
    public readonly Option<bool> FreezeBackbone = new("--freeze-backbone")
    {
        Description = "Train only the head, on features computed once per image: fast, for a pretrained backbone on small data.",
    };

    /// <summary>Adds the flags to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { LabelSmoothing, HeadInitScale, Augment, MinCropScale, HorizontalFlip, RandAugmentLayers,
                     RandAugmentMagnitude, RandomErasing, MixupAlpha, CutmixAlpha, ImageSize, PatchSize, FreezeBackbone })
            command.Options.Add(option);
    }

    /// <summary>Copies the flags given into <paramref name="options"/>.</summary>
    public void Apply(ParseResult parse, BeitFinetuneOptions options)
    {
        options.LabelSmoothing = parse.GetValue(LabelSmoothing) ?? options.LabelSmoothing;
        options.HeadInitScale = parse.GetValue(HeadInitScale) ?? options.HeadInitScale;
        options.Augment = parse.GetValue(Augment) ?? options.Augment;
        options.MinCropScale = parse.GetValue(MinCropScale) ?? options.MinCropScale;
        options.HorizontalFlip = parse.GetValue(HorizontalFlip) ?? options.HorizontalFlip;
        options.RandAugmentLayers = parse.GetValue(RandAugmentLayers) ?? options.RandAugmentLayers;
        options.RandAugmentMagnitude = parse.GetValue(RandAugmentMagnitude) ?? options.RandAugmentMagnitude;
        options.RandomErasing = parse.GetValue(RandomErasing) ?? options.RandomErasing;
        options.MixupAlpha = parse.GetValue(MixupAlpha);
        options.CutmixAlpha = parse.GetValue(CutmixAlpha);
        options.ImageSize = parse.GetValue(ImageSize) ?? options.ImageSize;
        options.PatchSize = parse.GetValue(PatchSize) ?? options.PatchSize;
        options.FreezeBackbone = parse.GetValue(FreezeBackbone);
    }
}
