using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using GptWsBench.Load;
using static GptWsBench.Reporting.Format;

namespace GptWsBench.Reporting;

/// <summary>
/// Turns the cells into the table, the engines side by side, the target checklist and the headline. Every "added"
/// figure is the path's value minus the floor's value at the same concurrency in the same run (the machine is shared
/// and noisy: read ratios).
/// </summary>
public sealed class Report
{
    private readonly BenchOptions _options;
    private readonly RunFigures _f;
    private readonly string? _peerProblem;
    private readonly TimeSpan _elapsed;
    private readonly List<TargetRow> _targets;

    /// <summary>Builds the report; <paramref name="idle"/> has the idle test of each engine it ran for.</summary>
    public Report(BenchOptions options, List<CellResult> results, IReadOnlyDictionary<string, IdleResult?> idle, string? peerProblem, TimeSpan elapsed)
    {
        _options = options;
        _f = new RunFigures(options, results, idle);
        _peerProblem = peerProblem;
        _elapsed = elapsed;
        _targets = TargetChecklist.Build(_f, peerProblem);
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
        b.AppendLine("- **Engines:** " + string.Join(", ", _options.Engines.Select(e => _options.Variant(e) is var (engine, dll) && dll == _options.DaemonDll ? $"`--engine {engine}`" : $"`--engine {engine}` of the baseline build `{dll}`")) + "; each its own daemon process, same ini; the idle test on a fresh daemon per engine");
        if (_options.DaemonEnvironment.Count > 0)
        {
            b.AppendLine("- **DIAGNOSTIC RUN, not the daemon as shipped:** daemon environment " + string.Join(", ", _options.DaemonEnvironment.Select(p => $"`{p.Key}={p.Value}`")));
        }

        b.AppendLine(Inv($"- **Load:** {_options.Tokens} tokens per stream, {_options.DelayMs} ms apart ({_options.DelayMsAt1000} ms at 1,000 streams); recorded streams are those that start inside a window of {string.Join(", ", _options.Concurrency.Select(c => Inv($"{_options.WindowAt(c).TotalSeconds:0.#} s at C={c}")))}, after an unrecorded warm-up of {string.Join(", ", _options.Concurrency.Select(c => Inv($"{_options.WarmupAt(c).TotalSeconds:0.#} s")))}; clients keep the load at C until the last recorded stream ends; one stream per WebSocket connection at a time{(_options.PromptBytes > 0 ? Inv($"; user messages {_options.PromptBytes:N0} bytes longer (--prompt-bytes)") : string.Empty)}"));
        b.AppendLine("- **Peer:** " + (_peerProblem is null ? "Portkey gateway (npm @portkey-ai/gateway), node " + NodeVersion() + ", `x-portkey-provider: openai` + `x-portkey-custom-host` → the same fake upstream" : "n/a — " + _peerProblem));
        b.AppendLine();
        b.Append(Table());
        if (EngineComparison.Table(_f) is { Length: > 0 } engines)
        {
            b.AppendLine().AppendLine("## The engines side by side").AppendLine().Append(engines);
        }

        b.AppendLine().AppendLine("## The daemon's garbage collection in each measured window").AppendLine().Append(GcTable());
        b.AppendLine().AppendLine("## How busy the cores were in each window").AppendLine().Append(BusyTable());
        if (SyscallTable() is { Length: > 0 } syscalls)
        {
            b.AppendLine().AppendLine("## System calls per relayed token (`--syscalls`)").AppendLine().Append(syscalls);
        }

        b.AppendLine().AppendLine("## Targets").AppendLine();
        b.AppendLine("| target | " + string.Join(" | ", _f.Engines.Select(e => e + " | met")) + " |").AppendLine("|---|" + string.Concat(_f.Engines.Select(_ => "---|---|")));
        foreach (var row in _targets)
        {
            b.AppendLine($"| {row.Target} | " + string.Join(" | ", row.PerEngine.Select(p => $"{p.Measured} | {Mark(p.Met)}")) + " |");
        }

        b.AppendLine().AppendLine("## Idle connections").AppendLine();
        foreach (var line in IdleLines())
        {
            b.AppendLine("- " + line);
        }

        b.AppendLine().AppendLine("```").AppendLine(Headline()).AppendLine("```");
        return b.ToString();
    }

    /// <summary>What the terminal shows: the tables and the targets (the headline is printed after).</summary>
    public string ToConsole()
    {
        var b = new StringBuilder();
        b.AppendLine().Append(Table()).AppendLine().Append(EngineComparison.Table(_f)).AppendLine().Append(GcTable()).AppendLine().Append(SyscallTable()).AppendLine();
        foreach (var row in _targets)
        {
            b.AppendLine(row.Target + ": " + string.Join("; ", _f.Engines.Zip(row.PerEngine, (e, p) => $"{e} {p.Measured} [{Mark(p.Met)}]")));
        }

        foreach (var line in IdleLines())
        {
            b.AppendLine(line);
        }

        return b.ToString();
    }

    /// <summary>The last line: the ratios that matter, per engine.</summary>
    public string Headline()
    {
        var cs = _options.Concurrency;
        string Series(Func<int, string> figure) => string.Join("/", cs.Select(figure));
        var ttft = _f.PerEngine(e => Series(c => Ratio(_f.AddedTtft(RunFigures.Origin(e), c, 50), _f.AddedTtft(RunFigures.Peer, c, 50))));
        var cpu = _f.PerEngine(e => Series(c => Ratio(_f.Cpu(RunFigures.Origin(e), c), _f.Cpu(RunFigures.Peer, c))));
        var cpuS = _f.PerEngine(e => Series(c => Ratio(_f.Cpu(RunFigures.Sentence(e), c), _f.Cpu(RunFigures.Peer, c))));
        var cpuRelay = _f.PerEngine(e => Series(c => Ratio(_f.Cpu(RunFigures.Origin(e), c), _f.Cpu(RunFigures.Relay, c))));

        // What a user sees against the floor: (floor TTFT + added TTFT) ÷ floor TTFT, with the jitter-free added figure.
        var vsFloor = _f.PerEngine(e => Series(c =>
        {
            var floor = _f.FloorFigure(c, r => r.Stats.Ttft.At(50));
            return Ratio(floor + _f.AddedTtft(RunFigures.Origin(e), c, 50), floor);
        }));
        var idle = !_f.IdleRan ? "idle n/a" : "idle " + _f.PerEngine(e => _f.Idle(e) is { } i ? Inv($"{i.Open:N0} conns {i.HeldKiB / 1024.0:F0} MiB ({i.KiBPerConnection:F1} KiB/conn)") : "n/a");
        var met = string.Join(", ", _f.Engines.Select((e, i) => $"{e} {_targets.Count(t => t.PerEngine[i].Met == true)}/{_targets.Count(t => t.PerEngine[i].Met is not null)}"));
        var peer = _peerProblem is null ? string.Empty : " [peer n/a: " + _peerProblem + "]";
        return $"headline: at C={string.Join("/", cs)}: daemon÷peer added TTFT p50 = {ttft}; CPU/token origin = {cpu}; sentence = {cpuS}; daemon÷bare relay CPU/token origin = {cpuRelay}{EngineComparison.Headline(_f)}; daemon÷floor TTFT p50 = {vsFloor}; {idle}; targets met {met}{peer}";
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

    /// <summary>Rows in table order: floor, its second run, the relay, each mode on every engine, the peer.</summary>
    private IEnumerable<string> PathsInOrder() =>
        new[] { RunFigures.Floor, RunFigures.FloorAgain, RunFigures.Relay }
            .Concat(_f.Engines.Select(RunFigures.Origin))
            .Concat(_f.Engines.Select(RunFigures.Sentence))
            .Append(RunFigures.Peer);

    private string Table()
    {
        var b = new StringBuilder();
        b.AppendLine("| streams | path | ok / run | TTFT p50 ms | added TTFT p50 / p99 ms | added gap p99 ms | added frame latency p50 / p99 ms | lost / reordered | CPU µs per token | peak RSS MiB | load gen µs per token |");
        b.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in _options.Concurrency)
        {
            foreach (var path in PathsInOrder())
            {
                var r = _f.Get(path, c);
                if (r is null)
                {
                    if (path == RunFigures.Peer)
                    {
                        b.AppendLine(Inv($"| {c:N0} | {path} | n/a | | | | | | | {(_peerProblem ?? "not run")} | |"));
                    }

                    continue;
                }

                var s = r.Stats;
                var ok = Inv($"{s.Completed}/{s.Streams}{(r.TimedOut ? " (time limit)" : string.Empty)}");
                if (path is RunFigures.Floor or RunFigures.FloorAgain)
                {
                    b.AppendLine(Inv($"| {c:N0} | {path} | {ok} | {Ms(s.Ttft.At(50))} | (overhead {Ms(s.TtftOverhead.At(50))} / {Ms(s.TtftOverhead.At(99))}) | (own {Ms(s.Stretch.At(99))}) | (own {Ms(s.Latency.At(50))} / {Ms(s.Latency.At(99))}) | {s.LostTokens} / {s.Reordered} | – | – | {r.BenchCpuPerToken:F1} |"));
                    continue;
                }

                var rss = r.PeakRssKiB is { } k ? (k / 1024.0).ToString("F0", CultureInfo.InvariantCulture) : "–";
                b.AppendLine(Inv($"| {c:N0} | {path} | {ok} | {Ms(s.Ttft.At(50))} | {Ms(_f.AddedTtft(r, c, 50))} / {Ms(_f.AddedTtft(r, c, 99))} | {Ms(_f.AddedGap(r, c))} | {Ms(_f.AddedLatency(r, c, 50))} / {Ms(_f.AddedLatency(r, c, 99))} | {s.LostTokens} / {s.Reordered} | {One(r.CpuPerToken)} | {rss} | {r.BenchCpuPerToken:F1} |"));
            }
        }

        var errors = _f.Results.Where(r => r.Stats.FirstError is not null).Select(r => Inv($"C={r.Concurrency} {r.Path}: {r.Stats.Failed} failed, first: {r.Stats.FirstError}")).ToList();
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
        b.AppendLine("| streams | path | window s | allocated B per token | allocated MB/s | GCs gen0 / gen1 / gen2 | GC pause ms total (per GC) | paused % of window | segment hold p50 / p99 ms |");
        b.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in _options.Concurrency)
        {
            foreach (var path in _f.Engines.Select(RunFigures.Origin).Concat(_f.Engines.Select(RunFigures.Sentence)).Concat(_f.Engines.Select(e => BenchRun.DaemonPath("tts", e))))
            {
                if (_f.Get(path, c) is not { Runtime: { } g } r)
                {
                    continue;
                }

                var window = _options.WindowAt(c).TotalSeconds;
                var perGc = g.Collections > 0 ? Inv($"{g.PauseSeconds * 1000 / g.Collections:F1}") : "–";
                b.AppendLine(Inv($"| {c:N0} | {path} | {window:0.#} | {r.AllocatedBytesPerToken:F0} | {g.AllocatedBytes / window / 1e6:F2} | {g.Gen0:0} / {g.Gen1:0} / {g.Gen2:0} | {g.PauseSeconds * 1000:F1} ({perGc}) | {g.PauseSeconds / window * 100:F2} | {Hold(g)} |"));
            }
        }

        return b.ToString();
    }

    /// <summary>
    /// The gateway's and the bench's own CPU over each window as cores and as a share of the machine: near 100 % every
    /// thread waits for a core, and the latencies measure that queue rather than the gateway.
    /// </summary>
    private string BusyTable()
    {
        var b = new StringBuilder();
        b.AppendLine(Inv($"| streams | path | gateway cores | bench cores (load + fake upstream) | busy % of {Environment.ProcessorCount} cores |")).AppendLine("|---:|---|---:|---:|---:|");
        foreach (var r in _f.Results.Where(r => r.CpuMicroseconds is not null))
        {
            var window = _options.WindowAt(r.Concurrency).TotalSeconds * 1e6;
            var gateway = r.CpuMicroseconds!.Value / window;
            var bench = r.BenchCpuMicroseconds / window;
            b.AppendLine(Inv($"| {r.Concurrency:N0} | {r.Path} | {gateway:F2} | {bench:F2} | {(gateway + bench) / Environment.ProcessorCount * 100:F0} |"));
        }

        return b.ToString();
    }

    /// <summary>
    /// Each gateway's system calls in the window (perf on the syscall tracepoints) ÷ the tokens relayed in it, the
    /// calls that ran at least 0.05 times per token by name; empty when --syscalls was not given.
    /// </summary>
    private string SyscallTable()
    {
        var cells = _f.Results.Where(r => r.Syscalls is not null && r.Stats.TokensRelayed > 0).ToList();
        if (cells.Count == 0)
        {
            return string.Empty;
        }

        var b = new StringBuilder();
        b.AppendLine("| streams | path | all per token | by call (per token) |").AppendLine("|---:|---|---:|---|");
        foreach (var r in cells)
        {
            var tokens = (double)r.Stats.TokensRelayed;
            var named = r.Syscalls!.Where(p => p.Key != GptWsBench.Measure.SyscallProbe.Total && p.Value / tokens >= 0.05).OrderByDescending(p => p.Value);
            b.AppendLine(Inv($"| {r.Concurrency:N0} | {r.Path} | {r.Syscalls![GptWsBench.Measure.SyscallProbe.Total] / tokens:F2} | {string.Join(", ", named.Select(p => Inv($"{p.Key} {p.Value / tokens:F2}")))} |"));
        }

        return b.ToString();
    }

    /// <summary>The sentence modes' hold (gptws_segment_hold_seconds) in the window, per mode that cut pieces.</summary>
    private static string Hold(GptWsBench.Measure.RuntimeDelta g) =>
        g.Hold.Where(h => h.Value is not null) is var held && held.Any()
            ? string.Join("; ", held.Select(h => Inv($"{h.Key} {h.Value!.Value.P50:F1} / {h.Value.Value.P99:F1}")))
            : "–";

    private IEnumerable<string> IdleLines() => !_f.IdleRan
        ? ["idle test: not run"]
        : _f.Engines.Select(e => _f.Idle(e) is not { } i
            ? $"idle test ({e}): daemon did not start"
            : Inv($"idle test ({e}): {i.Open:N0}/{i.Requested:N0} WebSockets open on a fresh daemon ({i.Failed} failed to open), VmRSS {i.BaselineKiB / 1024.0:F1} MiB before → {i.HeldKiB / 1024.0:F1} MiB holding them (VmHWM {i.HwmKiB / 1024.0:F1} MiB) = {i.KiBPerConnection:F1} KiB per connection; {i.PingsAnswered}/100 sampled connections answered a ping; opened in {i.ConnectTime.TotalSeconds:F1} s"));
}
