using Microsoft.ML.Beit.Checkpoints;
using Microsoft.ML.Beit.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Tests;

/// <summary>Saving, loading and the errors a user sees for checkpoints that do not fit.</summary>
[TestClass]
public sealed class CheckpointTests
{
    [TestMethod]
    [DataRow(BeitArchitecture.ImageClassification, false, false)]
    [DataRow(BeitArchitecture.MaskedImageModeling, false, true)]
    [DataRow(BeitArchitecture.Backbone, true, false)]
    public void SaveThenLoadGivesIdenticalOutputs(BeitArchitecture architecture, bool absolutePositions, bool sharedBias)
    {
        var config = TinyModels.Config(absolutePositions, sharedBias);
        using nn.Module model = TinyModels.Randomize<nn.Module>(architecture switch
        {
            BeitArchitecture.ImageClassification => new BeitForImageClassification(config),
            BeitArchitecture.MaskedImageModeling => new BeitForMaskedImageModeling(config),
            _ => new BeitModel(config),
        });
        string directory = TinyModels.TempDirectory();
        try
        {
            BeitCheckpoint.Save(model, directory);
            using var checkpoint = BeitCheckpoint.Load(directory);
            Assert.AreEqual(architecture, checkpoint.Architecture);
            using var reloaded = checkpoint.CreateModel();

            using var pixels = TinyModels.Pixels();
            using var mask = architecture == BeitArchitecture.MaskedImageModeling ? rand(2, 16).lt(0.4) : null;
            var before = BeitNamedOutputs.Compute(model, pixels, mask);
            var after = BeitNamedOutputs.Compute(reloaded, pixels, mask);
            CollectionAssert.AreEquivalent(before.Keys.ToList(), after.Keys.ToList());
            foreach (var (name, tensor) in before)
            {
                double diff = ReferenceData.MaxAbsDiff(after[name], tensor);
                Console.WriteLine($"{architecture} {name}: max abs diff after save/load {diff}");
                Assert.AreEqual(0.0, diff, name);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void MismatchedCheckpointListsMissingUnexpectedAndMisshapedKeys()
    {
        using var model = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config()));
        var weights = model.state_dict().ToDictionary(p => p.Key, p => p.Value);
        weights.Remove("beit.encoder.layer.1.lambda_2");
        weights["beit.encoder.layer.1.extra"] = zeros(4);
        weights["beit.encoder.layer.2.intermediate.dense.bias"] = zeros(7);
        string directory = TinyModels.TempDirectory();
        try
        {
            SafetensorsFile.Write(Path.Combine(directory, "model.safetensors"), weights);
            TinyModels.Config().Save(Path.Combine(directory, "config.json"));
            using var checkpoint = BeitCheckpoint.Load(directory);
            var error = Assert.ThrowsExactly<BeitCheckpointMismatchException>(() => checkpoint.CreateModel());
            Console.WriteLine(error.Message);
            CollectionAssert.AreEqual(new[] { "beit.encoder.layer.1.lambda_2" }, error.MissingKeys.ToArray());
            CollectionAssert.AreEqual(new[] { "beit.encoder.layer.1.extra" }, error.UnexpectedKeys.ToArray());
            Assert.HasCount(1, error.MisshapedKeys);
            StringAssert.Contains(error.Message, "beit.encoder.layer.2.intermediate.dense.bias: checkpoint [7] vs model [192]");
            StringAssert.Contains(error.Message, "beit.encoder.layer.1.lambda_2");
            StringAssert.Contains(error.Message, "beit.encoder.layer.1.extra");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void AConfigThatContradictsTheWeightsNamesEachField()
    {
        using var model = TinyModels.Randomize(new BeitForImageClassification(TinyModels.Config(labels: 7)));
        string directory = TinyModels.TempDirectory();
        try
        {
            BeitCheckpoint.Save(model, directory);
            var wrong = TinyModels.Config(labels: 3);
            wrong.NumHiddenLayers = 12;
            wrong.Save(Path.Combine(directory, "config.json"));
            var error = Assert.ThrowsExactly<InvalidDataException>(() => BeitCheckpoint.Load(directory));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "num_hidden_layers is 12 in the config but 3 in the weights");
            StringAssert.Contains(error.Message, "the number of labels (id2label) is 3 in the config but 7 in the weights");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void ABackboneSavedWithoutItsPoolerLoadsWithoutOne()
    {
        using var model = TinyModels.Randomize(new BeitModel(TinyModels.Config(), addPoolingLayer: false));
        string directory = TinyModels.TempDirectory();
        try
        {
            BeitCheckpoint.Save(model, directory);
            using var checkpoint = BeitCheckpoint.Load(directory);
            using var loaded = (BeitModel)checkpoint.CreateModel();
            Assert.IsNull(loaded.pooler);
            using var pixels = TinyModels.Pixels();
            using var noGrad = no_grad();
            using var a = model.forward(pixels);
            using var b = loaded.forward(pixels);
            Assert.AreEqual(0.0, ReferenceData.MaxAbsDiff(b.LastHiddenState, a.LastHiddenState));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void WhatTheWeightsCannotTellComesFromAPresetOrTheErrorSaysWhat()
    {
        // Absolute position embeddings only: no relative table to read the number of heads from.
        using var model = TinyModels.Randomize(new BeitModel(TinyModels.Config(absolutePositions: true)));
        string directory = TinyModels.TempDirectory();
        try
        {
            string file = Path.Combine(directory, "weights.safetensors");
            SafetensorsFile.Write(file, model.state_dict());
            var error = Assert.ThrowsExactly<InvalidDataException>(() => BeitCheckpoint.Load(file));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "number of attention heads");
            StringAssert.Contains(error.Message, "--config");

            using var withPreset = BeitCheckpoint.Load(file, new BeitCheckpointOptions { Preset = "tiny" });
            Assert.AreEqual(4, withPreset.Config.NumAttentionHeads);
            Assert.IsTrue(withPreset.Config.UseAbsolutePositionEmbeddings);
            Assert.IsFalse(withPreset.Config.UseRelativePositionBias);
            using var loaded = withPreset.CreateModel();
            Assert.IsInstanceOfType<BeitModel>(loaded);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void CorruptSafetensorsNamesTheFile()
    {
        string directory = TinyModels.TempDirectory();
        try
        {
            string file = Path.Combine(directory, "broken.safetensors");
            File.WriteAllBytes(file, [0xff, 0xff, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}']);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => SafetensorsFile.Read(file));
            StringAssert.Contains(error.Message, file);

            using var model = new BeitModel(TinyModels.Config());
            SafetensorsFile.Write(file, model.state_dict());
            byte[] bytes = File.ReadAllBytes(file);
            File.WriteAllBytes(file, bytes[..^100]);
            error = Assert.ThrowsExactly<InvalidDataException>(() => SafetensorsFile.Read(file));
            Console.WriteLine(error.Message);
            StringAssert.Contains(error.Message, "outside the file");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void RelativePositionIndexFollowsTheUnilmFormulaOnNonSquareGrids()
    {
        const int height = 2, width = 3;
        long[] index = BeitRelativePositionBias.ComputeIndex(height, width);
        int tokens = height * width + 1, rows = BeitRelativePositionBias.TableRows(height, width);
        Assert.AreEqual((2 * height - 1) * (2 * width - 1) + 3, rows);
        Assert.AreEqual(rows - 1, index[0]);
        for (int t = 1; t < tokens; t++)
        {
            Assert.AreEqual(rows - 3, index[t], "CLS query");
            Assert.AreEqual(rows - 2, index[t * tokens], "CLS key");
        }
        // Patch 0 = (0,0) attending to patch 5 = (1,2), and back.
        Assert.AreEqual((0 - 1 + height - 1) * (2 * width - 1) + (0 - 2 + width - 1), index[1 * tokens + 6]);
        Assert.AreEqual((1 - 0 + height - 1) * (2 * width - 1) + (2 - 0 + width - 1), index[6 * tokens + 1]);
        Assert.AreEqual(index.Distinct().Count(), rows, "every table row is used");
    }
}
