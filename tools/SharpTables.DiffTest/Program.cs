return SharpTables.DiffTest.Cli.Run(args);
