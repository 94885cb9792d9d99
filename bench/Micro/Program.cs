using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Micro -- --filter '*' --inProcess --artifacts bench/results/micro
BenchmarkSwitcher.FromAssembly(typeof(GptWsBench.Micro.PerTokenBenchmarks).Assembly).Run(args);
