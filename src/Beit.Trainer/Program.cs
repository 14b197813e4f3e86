using System.CommandLine;
using Beit.Trainer;

var root = new RootCommand("beit: BEiT models for .NET. Fine-tune image classifiers, featurize images, inspect and run checkpoints, and check conversions against PyTorch.");
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
root.Subcommands.Add(QuickstartCommand.Create());
root.Subcommands.Add(FashionMnistCommand.Create());
return root.Parse(args).Invoke();
