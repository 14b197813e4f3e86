namespace Microsoft.ML.Beit.Search;

/// <summary>
/// The settings a time-budget search tries, each a change to the recipe's: a doubled and a halved learning rate, stronger
/// augmentation, and stochastic depth. Only options the caller left to the recipe are varied.
/// </summary>
internal static class SearchCandidates
{
    /// <summary>Candidates for fine-tuning a classifier, the recipe's own settings first.</summary>
    public static IReadOnlyList<SearchCandidate> Classifier(BeitFinetuneOptions given)
    {
        var list = new List<SearchCandidate> { new("recipe", "the recipe's", _ => { }) };
        bool lr = given.LearningRate is null;
        bool augment = given.Augment is not false && given.MinCropScale is null && given.RandAugmentLayers is null && given.RandomErasing is null;
        static void Stronger(BeitTrainingOptions o)
        {
            var f = (BeitFinetuneOptions)o;
            (f.MinCropScale, f.RandAugmentLayers, f.RandAugmentMagnitude, f.RandomErasing) = (0.5, 1, f.RandAugmentMagnitude ?? 5, 0.1);
        }
        if (lr) list.Add(new("lr x2", "lr x2", o => o.SearchLearningRateScale = 2));
        if (lr) list.Add(new("lr x0.5", "lr x0.5", o => o.SearchLearningRateScale = 0.5));
        if (augment) list.Add(new("augment+", "min crop 0.5, RandAugment 1, erasing 0.1", Stronger));
        if (lr && augment) list.Add(new("lr x2 augment+", "lr x2, min crop 0.5, RandAugment 1, erasing 0.1", o => { o.SearchLearningRateScale = 2; Stronger(o); }));
        if (given.DropPath is null) list.Add(new("drop path", "drop path 0.1", o => o.DropPath = 0.1));
        return list;
    }

    /// <summary>Candidates for training segmentation, the recipe's own settings first.</summary>
    public static IReadOnlyList<SearchCandidate> Segmenter(BeitSegmentationOptions given)
    {
        var list = new List<SearchCandidate> { new("recipe", "the recipe's", _ => { }) };
        bool lr = given.LearningRate is null;
        if (lr) list.Add(new("lr x2", "lr x2", o => o.SearchLearningRateScale = 2));
        if (lr) list.Add(new("lr x0.5", "lr x0.5", o => o.SearchLearningRateScale = 0.5));
        if (given.ClassWeighting is null)
        {
            list.Add(new("balanced", "balanced class weights", o => ((BeitSegmentationOptions)o).ClassWeighting = BeitClassWeighting.Balanced));
            if (lr) list.Add(new("lr x2 balanced", "lr x2, balanced class weights", o =>
            {
                o.SearchLearningRateScale = 2;
                ((BeitSegmentationOptions)o).ClassWeighting = BeitClassWeighting.Balanced;
            }));
        }
        if (given.DropPath is null) list.Add(new("drop path", "drop path 0.1", o => o.DropPath = 0.1));
        return list;
    }
}
