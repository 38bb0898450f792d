using SharpTables.Cli;

return SharpTablesCli.Run(args, Console.Out, Console.Error, Console.In);
