using GptWsBench.Load;

namespace GptWsBench.Reporting;

/// <summary>
/// The cells of one run and the figures derived from them. Every "added" figure is the path's value minus the floor's
/// at the same concurrency in the same run, the floor's being the lower of its two runs (before and after the gateways).
/// </summary>
internal sealed class RunFigures(BenchOptions options, IReadOnlyList<CellResult> results, IReadOnlyDictionary<string, IdleResult?> idle)
{
    public const string Floor = "floor";
    public const string FloorAgain = "floor (again)";
    public const string Peer = "peer (Portkey)";
    public const string Relay = BenchRun.RelayPath;

    public BenchOptions Options => options;

    public IReadOnlyList<CellResult> Results => results;

    /// <summary>The daemon's engines, in run order; the first is the reference of the comparisons.</summary>
    public IReadOnlyList<string> Engines => options.Engines;

    public IReadOnlyList<int> Concurrency => options.Concurrency;

    public static string Origin(string engine) => BenchRun.DaemonPath("origin", engine);

    public static string Sentence(string engine) => BenchRun.DaemonPath("sentence", engine);

    /// <summary>The idle test of <paramref name="engine"/>, or null when it was not run or its daemon did not start.</summary>
    public IdleResult? Idle(string engine) => idle.GetValueOrDefault(engine);

    /// <summary>True when the idle test was asked for.</summary>
    public bool IdleRan => idle.Count > 0;

    public CellResult? Get(string path, int c) => results.FirstOrDefault(r => r.Path == path && r.Concurrency == c);

    /// <summary>The floor's figure at concurrency <paramref name="c"/>: the lower of its two runs, or null.</summary>
    public double? FloorFigure(int c, Func<CellResult, double> figure)
    {
        var values = new[] { Get(Floor, c), Get(FloorAgain, c) }.OfType<CellResult>().Select(figure).Where(v => !double.IsNaN(v)).ToList();
        return values.Count == 0 ? null : values.Min();
    }

    /// <summary>
    /// Added TTFT: the path's TTFT overhead minus the floor's, where overhead = TTFT − the upstream's think time (request read →
    /// the token that completed the first frame written). The upstream's timer jitter and, in sentence mode, the wait for the
    /// first clause cancel out.
    /// </summary>
    public double? AddedTtft(CellResult? r, int c, double p) =>
        r is null || r.Stats.TtftOverhead.Count == 0 ? null : r.Stats.TtftOverhead.At(p) - FloorFigure(c, f => f.Stats.TtftOverhead.At(p));

    public double? AddedTtft(string path, int c, double p) => AddedTtft(Get(path, c), c, p);

    public double? AddedGap(CellResult? r, int c) =>
        r is null || r.Stats.Stretch.Count == 0 ? null : r.Stats.Stretch.At(99) - FloorFigure(c, f => f.Stats.Stretch.At(99));

    public double? AddedLatency(CellResult? r, int c, double p) =>
        r is null || r.Stats.Latency.Count == 0 ? null : r.Stats.Latency.At(p) - FloorFigure(c, f => f.Stats.Latency.At(p));

    public double? Cpu(string path, int c) => Get(path, c)?.CpuPerToken;

    /// <summary>"httplistener a, kestrel b": one figure per engine.</summary>
    public string PerEngine(Func<string, string> figure) => string.Join(", ", Engines.Select(e => e + " " + figure(e)));
}
