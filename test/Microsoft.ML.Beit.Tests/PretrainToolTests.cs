namespace Microsoft.ML.Beit.Tests;

/// <summary>The pretraining path from the shell: a dVAE tokenizer, MIM pretraining, then fine-tuning from the backbone zip.</summary>
[TestClass]
public sealed class PretrainToolTests
{
    [TestMethod]
    public void TokenizerPretrainAndFinetuneFromTheBackbone()
    {
        string root = TinyModels.TempDirectory();
        try
        {
            string images = Path.Combine(root, "fm"), tokenizer = Path.Combine(root, "tok.safetensors"), backbone = Path.Combine(root, "backbone.zip");
            string config = Path.Combine(root, "model.json");
            File.WriteAllText(config, """{"image_size": 28, "patch_size": 4, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}""");
            var (code, output, error) = BeitToolTests.Beit("fashion-mnist", "--data", FashionMnist.Directory, "--output", images,
                "--train-images", "120", "--test-images", "20", "--per-class", "4");
            Assert.AreEqual(0, code, error);

            (code, output, error) = BeitToolTests.Beit("tokenizer", "train", "--data", Path.Combine(images, "train"), "--input-size", "28",
                "--downsampling", "4", "--vocabulary-size", "32", "--hidden-channels", "8", "--epochs", "2", "--output", tokenizer);
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            StringAssert.Contains(output, "codes_used");

            (code, output, error) = BeitToolTests.Beit("pretrain", "--data", Path.Combine(images, "train"), "--tokenizer", tokenizer,
                "--model", config, "--epochs", "2", "--batch-size", "32", "--warmup-epochs", "1", "--output", backbone, "--hugging-face-output-directory", Path.Combine(root, "hf"));
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            Assert.IsTrue(File.Exists(backbone));
            Assert.IsTrue(File.Exists(Path.Combine(root, "hf", "config.json")));

            // A learning rate too small to move the weights: the fine-tuned encoder must still be the pretrained one.
            string finetuned = Path.Combine(root, "ft.zip");
            (code, output, error) = BeitToolTests.Beit("finetune", "--data", Path.Combine(images, "few"), "--model", backbone, "--epochs", "1",
                "--batch-size", "20", "--learning-rate", "1e-12", "--warmup-epochs", "0", "--output", finetuned);
            Console.WriteLine(output);
            Assert.AreEqual(0, code, error);
            var (diff, compared) = Backbones.Difference(backbone, finetuned);
            Console.WriteLine($"{compared} encoder tensors of the fine-tuned model differ from the backbone's by at most {diff:E2}");
            Assert.IsGreaterThanOrEqualTo(2 * 12, compared, "the encoder's tensors were compared");
            Assert.IsLessThanOrEqualTo(1e-5, diff, "fine-tuning started from the backbone");

            // The Hugging Face export holds the same encoder, and fine-tuning starts from it as from the zip: the round trip a
            // model pretrained here takes through PyTorch (docs/scale-out.md).
            var (exported, exportedCount) = Backbones.Difference(backbone, Path.Combine(root, "hf"));
            Console.WriteLine($"{exportedCount} encoder tensors of the Hugging Face export differ from the backbone's by at most {exported:E2}");
            Assert.IsGreaterThanOrEqualTo(2 * 12, exportedCount, "the exported encoder's tensors were compared");
            Assert.AreEqual(0, exported, "the Hugging Face export holds the backbone's weights");
            string fromExport = Path.Combine(root, "ft-hf.zip");
            (code, output, error) = BeitToolTests.Beit("finetune", "--data", Path.Combine(images, "few"), "--model", Path.Combine(root, "hf"), "--epochs", "1",
                "--batch-size", "20", "--learning-rate", "1e-12", "--warmup-epochs", "0", "--output", fromExport);
            Assert.AreEqual(0, code, error);
            (diff, compared) = Backbones.Difference(backbone, fromExport);
            Assert.IsGreaterThanOrEqualTo(2 * 12, compared);
            Assert.IsLessThanOrEqualTo(1e-5, diff, "fine-tuning started from the Hugging Face export");

            // A tokenizer that does not exist is named.
            (code, _, error) = BeitToolTests.Beit("pretrain", "--data", Path.Combine(images, "train"), "--tokenizer", Path.Combine(root, "none.safetensors"),
                "--model", config, "--output", backbone);
            Console.WriteLine(error);
            Assert.AreNotEqual(0, code);
            StringAssert.Contains(error, "none.safetensors");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
