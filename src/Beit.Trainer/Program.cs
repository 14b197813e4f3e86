using System.CommandLine;
using System.Globalization;
using Beit.Trainer;

// Numbers read and print the same in every locale: "--drop-path 0.1" must not become 1 where "." groups thousands,
// and printed metrics keep "0.9265". Messages keep the user's language.
CultureInfo.CurrentCulture = CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

var root = new RootCommand("beit: BEiT models for .NET. Fine-tune image classifiers, segment images, pretrain backbones by masked image modeling, featurize images, export to ONNX, inspect and run checkpoints, and check conversions against PyTorch.");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(ForwardCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(PreprocessCommand.Create());
root.Subcommands.Add(FeaturizeCommand.Create());
root.Subcommands.Add(FinetuneCommand.Create());
root.Subcommands.Add(EvaluateCommand.CreateEvaluate());
root.Subcommands.Add(EvaluateCommand.CreatePredict());
root.Subcommands.Add(SegmentCommand.Create());
root.Subcommands.Add(TokenizerCommand.Create());
root.Subcommands.Add(PretrainCommand.Create());
root.Subcommands.Add(AttentionCommand.Create());
root.Subcommands.Add(ExportOnnxCommand.Create());
root.Subcommands.Add(QuickstartCommand.Create());
root.Subcommands.Add(FashionMnistCommand.Create());
root.Options.Add(CommandRunner.Verbose);
return CommandRunner.Invoke(root, args);
