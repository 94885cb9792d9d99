using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Micro -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(GptWsBench.Micro.PerTokenBenchmarks).Assembly).Run(args);
