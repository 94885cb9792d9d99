using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using GptWsBench.Load;

namespace GptWsBench.Reporting;

/// <summary>
/// Turns the cells into the table, the target checklist and the headline. Every "added" figure is the path's value
/// minus the floor's value at the same concurrency in the same run (the machine is shared and noisy: read ratios).
/// </summary>
public sealed class Report
{
    private const string Floor = "floor";
    private const string FloorAgain = "floor (again)";
    private const string Origin = "daemon origin";
    private const string Sentence = "daemon sentence";
    private const string Peer = "peer (Portkey)";
    private const string Relay = BenchRun.RelayPath;
    private readonly BenchOptions _options;
    private readonly List<CellResult> _results;
    private readonly IdleResult? _idle;
    private readonly string? _peerProblem;
    private readonly TimeSpan _elapsed;
    private readonly List<(string Target, string Measured, bool? Met)> _targets;

    /// <summary>Builds the report.</summary>
    public Report(BenchOptions options, List<CellResult> results, IdleResult? idle, string? peerProblem, TimeSpan elapsed)
    {
        _options = options;
        _results = results;
        _idle = idle;
        _peerProblem = peerProblem;
        _elapsed = elapsed;
        _targets = Targets();
    }

    /// <summary>The report for bench/results/latest.md.</summary>
    public string ToMarkdown()
    {
        var b = new StringBuilder();
        b.AppendLine("# GptWsDaemon benchmark — latest run").AppendLine();
        b.AppendLine(Inv($"- **Date:** {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; whole run {_elapsed.TotalMinutes:F1} min"));
        b.AppendLine("- **Machine:** " + (_options.Machine ?? MachineFallback()));
        b.AppendLine("- **Runtime:** " + RuntimeInformation.FrameworkDescription + "; the load generator, the fake upstream and the gateways share the same cores");
        b.AppendLine("- **Command:** `bench/run.sh`");
        if (_options.DaemonEnvironment.Count > 0)
        {
            b.AppendLine("- **DIAGNOSTIC RUN, not the daemon as shipped:** daemon environment " + string.Join(", ", _options.DaemonEnvironment.Select(p => $"`{p.Key}={p.Value}`")));
        }

        b.AppendLine(Inv($"- **Load:** {_options.Tokens} tokens per stream, {_options.DelayMs} ms apart ({_options.DelayMsAt1000} ms at 1,000 streams); recorded streams are those that start inside a window of {string.Join(", ", _options.Concurrency.Select(c => Inv($"{_options.WindowAt(c).TotalSeconds:0.#} s at C={c}")))}, after an unrecorded warm-up of {string.Join(", ", _options.Concurrency.Select(c => Inv($"{_options.WarmupAt(c).TotalSeconds:0.#} s")))}; clients keep the load at C until the last recorded stream ends; one stream per WebSocket connection at a time{(_options.PromptBytes > 0 ? Inv($"; user messages {_options.PromptBytes:N0} bytes longer (--prompt-bytes)") : string.Empty)}"));
        b.AppendLine("- **Peer:** " + (_peerProblem is null ? "Portkey gateway (npm @portkey-ai/gateway), node " + NodeVersion() + ", `x-portkey-provider: openai` + `x-portkey-custom-host` → the same fake upstream" : "n/a — " + _peerProblem));
        b.AppendLine();
        b.Append(Table());
        b.AppendLine().AppendLine("## The daemon's garbage collection in each measured window").AppendLine().Append(GcTable());
        b.AppendLine().AppendLine("## Targets").AppendLine();
        b.AppendLine("| target | measured | met |").AppendLine("|---|---|---|");
        foreach (var (target, measured, met) in _targets)
        {
            b.AppendLine($"| {target} | {measured} | {Mark(met)} |");
        }

        b.AppendLine().AppendLine("## Idle connections").AppendLine().AppendLine(IdleLine()).AppendLine();
        b.AppendLine("```").AppendLine(Headline()).AppendLine("```");
        return b.ToString();
    }

    /// <summary>What the terminal shows: the table and the targets (the headline is printed after).</summary>
    public string ToConsole()
    {
        var b = new StringBuilder();
        b.AppendLine().Append(Table()).AppendLine().Append(GcTable()).AppendLine();
        foreach (var (target, measured, met) in _targets)
        {
            b.AppendLine($"{Mark(met),-6} {target}: {measured}");
        }

        b.AppendLine(IdleLine());
        return b.ToString();
    }

    /// <summary>The last line: the ratios that matter.</summary>
    public string Headline()
    {
        var cs = _options.Concurrency;
        var ttft = string.Join("/", cs.Select(c => Ratio(AddedTtft(Get(Origin, c), c, 50), AddedTtft(Get(Peer, c), c, 50))));
        var cpu = string.Join("/", cs.Select(c => Ratio(Get(Origin, c)?.CpuPerToken, Get(Peer, c)?.CpuPerToken)));
        var cpuS = string.Join("/", cs.Select(c => Ratio(Get(Sentence, c)?.CpuPerToken, Get(Peer, c)?.CpuPerToken)));
        var cpuRelay = string.Join("/", cs.Select(c => Ratio(Get(Origin, c)?.CpuPerToken, Get(Relay, c)?.CpuPerToken)));
        // What a user sees against the floor: (floor TTFT + added TTFT) ÷ floor TTFT, with the jitter-free added figure.
        var vsFloor = string.Join("/", cs.Select(c =>
        {
            var floor = FloorFigure(c, f => f.Stats.Ttft.At(50));
            var added = AddedTtft(Get(Origin, c), c, 50);
            return Ratio(floor + added, floor);
        }));
        var met = _targets.Count(t => t.Met == true);
        var judged = _targets.Count(t => t.Met is not null);
        var idle = _idle is null ? "idle n/a" : Inv($"idle {_idle.Open:N0} conns {_idle.HeldKiB / 1024.0:F0} MiB ({_idle.KiBPerConnection:F1} KiB/conn)");
        var peer = _peerProblem is null ? string.Empty : " [peer n/a: " + _peerProblem + "]";
        return $"headline: at C={string.Join("/", cs)}: daemon÷peer added TTFT p50 = {ttft}, CPU/token origin = {cpu}, sentence = {cpuS}; daemon÷bare relay CPU/token origin = {cpuRelay}; daemon÷floor TTFT p50 = {vsFloor}; {idle}; targets met {met}/{judged}{peer}";
    }

    private static string Mark(bool? met) => met switch { true => "met", false => "MISSED", null => "n/a" };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Ms(double v) => double.IsNaN(v) ? "–" : v.ToString("F2", CultureInfo.InvariantCulture);

    private static string Ratio(double? a, double? b)
    {
        if (a is not { } x || b is not { } y || double.IsNaN(x) || double.IsNaN(y) || y <= 0)
        {
            return "n/a";
        }

        return Math.Max(0, x / y).ToString("F2", CultureInfo.InvariantCulture);
    }

    private static string MachineFallback()
    {
        var model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        return Inv($"{Environment.ProcessorCount} cores, {model ?? "unknown CPU"}");
    }

    private static string NodeVersion()
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("node", "--version") { RedirectStandardOutput = true });
            var v = p!.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return v;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "?";
        }
    }

    private CellResult? Get(string path, int c) => _results.FirstOrDefault(r => r.Path == path && r.Concurrency == c);

    /// <summary>The floor's figure at concurrency <paramref name="c"/>: the lower of its two runs (before and after the gateways), or null.</summary>
    private double? FloorFigure(int c, Func<CellResult, double> figure)
    {
        var values = new[] { Get(Floor, c), Get(FloorAgain, c) }.OfType<CellResult>().Select(figure).Where(v => !double.IsNaN(v)).ToList();
        return values.Count == 0 ? null : values.Min();
    }

    /// <summary>
    /// Added TTFT: the path's TTFT overhead minus the floor's, where overhead = TTFT − the upstream's think time (request read →
    /// the token that completed the first frame written). The upstream's timer jitter and, in sentence mode, the wait for the
    /// first clause cancel out.
    /// </summary>
    private double? AddedTtft(CellResult? r, int c, double p)
    {
        if (r is null || r.Stats.TtftOverhead.Count == 0)
        {
            return null;
        }

        return r.Stats.TtftOverhead.At(p) - FloorFigure(c, f => f.Stats.TtftOverhead.At(p));
    }

    private double? AddedGap(CellResult? r, int c) =>
        r is null || r.Stats.Stretch.Count == 0 ? null : r.Stats.Stretch.At(99) - FloorFigure(c, f => f.Stats.Stretch.At(99));

    private double? AddedLatency(CellResult? r, int c, double p) =>
        r is null || r.Stats.Latency.Count == 0 ? null : r.Stats.Latency.At(p) - FloorFigure(c, f => f.Stats.Latency.At(p));

    private string Table()
    {
        var b = new StringBuilder();
        b.AppendLine("| streams | path | ok / run | TTFT p50 ms | added TTFT p50 / p99 ms | added gap p99 ms | added frame latency p50 / p99 ms | lost / reordered | CPU µs per token | peak RSS MiB | load gen µs per token |");
        b.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in _options.Concurrency)
        {
            foreach (var path in new[] { Floor, FloorAgain, Relay, Origin, Sentence, Peer })
            {
                var r = Get(path, c);
                if (r is null)
                {
                    if (path == Peer)
                    {
                        b.AppendLine(Inv($"| {c:N0} | {path} | n/a | | | | | | | {(_peerProblem ?? "not run")} | |"));
                    }

                    continue;
                }

                var s = r.Stats;
                var ok = Inv($"{s.Completed}/{s.Streams}{(r.TimedOut ? " (time limit)" : string.Empty)}");
                if (path is Floor or FloorAgain)
                {
                    b.AppendLine(Inv($"| {c:N0} | {path} | {ok} | {Ms(s.Ttft.At(50))} | (overhead {Ms(s.TtftOverhead.At(50))} / {Ms(s.TtftOverhead.At(99))}) | (own {Ms(s.Stretch.At(99))}) | (own {Ms(s.Latency.At(50))} / {Ms(s.Latency.At(99))}) | {s.LostTokens} / {s.Reordered} | – | – | {r.BenchCpuPerToken:F1} |"));
                    continue;
                }

                var cpu = r.CpuPerToken is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "–";
                var rss = r.PeakRssKiB is { } k ? (k / 1024.0).ToString("F0", CultureInfo.InvariantCulture) : "–";
                b.AppendLine(Inv($"| {c:N0} | {path} | {ok} | {Ms(s.Ttft.At(50))} | {Ms(AddedTtft(r, c, 50) ?? double.NaN)} / {Ms(AddedTtft(r, c, 99) ?? double.NaN)} | {Ms(AddedGap(r, c) ?? double.NaN)} | {Ms(AddedLatency(r, c, 50) ?? double.NaN)} / {Ms(AddedLatency(r, c, 99) ?? double.NaN)} | {s.LostTokens} / {s.Reordered} | {cpu} | {rss} | {r.BenchCpuPerToken:F1} |"));
            }
        }

        var errors = _results.Where(r => r.Stats.FirstError is not null).Select(r => Inv($"C={r.Concurrency} {r.Path}: {r.Stats.Failed} failed, first: {r.Stats.FirstError}")).ToList();
        if (errors.Count > 0)
        {
            b.AppendLine().AppendLine("Errors: " + string.Join("; ", errors));
        }

        return b.ToString();
    }

    /// <summary>From the daemon's own counters (/metrics) at the window's edges: what its p99s have to absorb.</summary>
    private string GcTable()
    {
        var b = new StringBuilder();
        b.AppendLine("| streams | path | window s | allocated B per token | allocated MB/s | GCs gen0 / gen1 / gen2 | GC pause ms total (per GC) | paused % of window |");
        b.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var c in _options.Concurrency)
        {
            foreach (var path in new[] { Origin, Sentence })
            {
                if (Get(path, c) is not { Runtime: { } g } r)
                {
                    continue;
                }

                var window = _options.WindowAt(c).TotalSeconds;
                var perGc = g.Collections > 0 ? Inv($"{g.PauseSeconds * 1000 / g.Collections:F1}") : "–";
                b.AppendLine(Inv($"| {c:N0} | {path} | {window:0.#} | {r.AllocatedBytesPerToken:F0} | {g.AllocatedBytes / window / 1e6:F2} | {g.Gen0:0} / {g.Gen1:0} / {g.Gen2:0} | {g.PauseSeconds * 1000:F1} ({perGc}) | {g.PauseSeconds / window * 100:F2} |"));
            }
        }

        return b.ToString();
    }

    private string IdleLine() => _idle is null
        ? "idle test: not run"
        : Inv($"idle test: {_idle.Open:N0}/{_idle.Requested:N0} WebSockets open on a fresh daemon ({_idle.Failed} failed to open), VmRSS {_idle.BaselineKiB / 1024.0:F1} MiB before → {_idle.HeldKiB / 1024.0:F1} MiB holding them (VmHWM {_idle.HwmKiB / 1024.0:F1} MiB) = {_idle.KiBPerConnection:F1} KiB per connection; {_idle.PingsAnswered}/100 sampled connections answered a ping; opened in {_idle.ConnectTime.TotalSeconds:F1} s");

    private List<(string, string, bool?)> Targets()
    {
        var t = new List<(string, string, bool?)>();
        var c1 = _options.Concurrency.Contains(1) ? 1 : _options.Concurrency[0];
        var cMax = _options.Concurrency.Max();

        (string, bool?) Both(Func<CellResult?, double?> measure, double limit, int c)
        {
            var o = measure(Get(Origin, c));
            var s = measure(Get(Sentence, c));
            var text = $"origin {Ms(o ?? double.NaN)}, sentence {Ms(s ?? double.NaN)}";
            return (text, o is null || s is null ? null : o <= limit && s <= limit);
        }

        var (m1, ok1) = Both(r => AddedTtft(r, c1, 50), 0.5, c1);
        t.Add(($"added TTFT p50 ≤ 0.5 ms at {c1} stream (ms)", m1, ok1));
        var (m2, ok2) = Both(r => AddedTtft(r, cMax, 99), 2, cMax);
        t.Add(($"added TTFT p99 ≤ 2 ms at {cMax:N0} streams (ms)", m2, ok2));

        var gaps = _options.Concurrency.SelectMany(c => new[] { AddedGap(Get(Origin, c), c), AddedGap(Get(Sentence, c), c) }).Where(g => g is not null).Select(g => g!.Value).ToList();
        t.Add(("added inter-frame gap p99 ≤ 1 ms, every concurrency and mode (worst, ms)", gaps.Count == 0 ? "–" : Ms(gaps.Max()), gaps.Count == 0 ? null : gaps.Max() <= 1));

        // Next to each CPU figure, the bare relay's (one upstream read and one client write per token, nothing else).
        var relay = Get(Relay, cMax)?.CpuPerToken;
        string Cpu(double? v) => v is not { } x ? "–" : Inv($"{x:F1} µs") + (relay is { } r ? Inv($" (bare relay {r:F1} µs: ×{x / r:F2})") : string.Empty);
        var cpuO = Get(Origin, cMax)?.CpuPerToken;
        t.Add(($"CPU ≤ 20 µs per token at {cMax:N0} streams, origin_stream=true", Cpu(cpuO), cpuO is null ? null : cpuO <= 20));
        var cpuS = Get(Sentence, cMax)?.CpuPerToken;
        t.Add(($"CPU ≤ 25 µs per token at {cMax:N0} streams, sentence segmentation", Cpu(cpuS), cpuS is null ? null : cpuS <= 25));

        t.Add((Inv($"{_options.Idle:N0} idle connections in ≤ 300 MiB RSS"), _idle is null ? "–" : Inv($"{_idle.HeldKiB / 1024.0:F1} MiB, {_idle.Open:N0} open"), _idle is null ? null : _idle.HeldKiB <= 300 * 1024 && _idle.Open == _idle.Requested));

        var big = new[] { Get(Origin, cMax), Get(Sentence, cMax) }.OfType<CellResult>().ToList();
        t.Add((Inv($"{cMax:N0} concurrent streams, zero lost or reordered frames, all completed"), string.Join(", ", big.Select(r => Inv($"{r.Path}: {r.Stats.Completed}/{r.Stats.Streams} ok, {r.Stats.LostTokens} lost, {r.Stats.Reordered} reordered"))), big.Count == 0 ? null : big.All(r => r.Stats.LostTokens == 0 && r.Stats.Reordered == 0 && r.Stats.Completed == r.Stats.Streams)));

        var all = _results.Where(r => r.Path != Peer).ToList(); // floor runs and daemon cells
        t.Add(("zero lost or reordered frames in every floor and daemon cell", Inv($"{all.Sum(r => r.Stats.LostTokens)} lost, {all.Sum(r => r.Stats.Reordered)} reordered, {all.Sum(r => r.Stats.Streams - r.Stats.Completed)} incomplete streams"), all.Count == 0 ? null : all.All(r => r.Stats.LostTokens == 0 && r.Stats.Reordered == 0 && r.Stats.Completed == r.Stats.Streams)));

        if (_peerProblem is not null)
        {
            t.Add(("daemon added TTFT ≤ ½ peer's at every concurrency", "peer n/a: " + _peerProblem, null));
            t.Add(("daemon CPU per token ≤ ½ peer's at every concurrency", "peer n/a", null));
        }
        else
        {
            var ttft = _options.Concurrency.Select(c => (c, d: AddedTtft(Get(Origin, c), c, 50), p: AddedTtft(Get(Peer, c), c, 50))).ToList();
            t.Add(("daemon added TTFT p50 ≤ ½ peer's at every concurrency (origin ÷ peer)", string.Join(", ", ttft.Select(x => $"C={x.c}: {Ratio(x.d, x.p)}")), ttft.All(x => x.d is not null && x.p is not null) ? ttft.All(x => x.d <= 0.5 * x.p) : null));
            var cpu = _options.Concurrency.Select(c => (c, o: Get(Origin, c)?.CpuPerToken, s: Get(Sentence, c)?.CpuPerToken, p: Get(Peer, c)?.CpuPerToken)).ToList();
            t.Add(("daemon CPU per token ≤ ½ peer's at every concurrency (origin ÷ peer, sentence ÷ peer)", string.Join(", ", cpu.Select(x => $"C={x.c}: {Ratio(x.o, x.p)}, {Ratio(x.s, x.p)}")), cpu.All(x => x.o is not null && x.p is not null) ? cpu.All(x => x.o <= 0.5 * x.p && (x.s is null || x.s <= 0.5 * x.p)) : null));
        }

        return t;
    }
}
