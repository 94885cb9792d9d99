using System.Diagnostics;
using System.Globalization;
using GptWsBench.Gateways;
using GptWsBench.Load;
using GptWsBench.Measure;
using GptWsBench.Reporting;
using GptWsBench.Upstream;

namespace GptWsBench;

/// <summary>
/// The whole benchmark in one process: the fake upstream, the daemon and Portkey as child processes pointed at it,
/// every path × concurrency cell, the idle test on a fresh daemon, then the report.
/// </summary>
public static class BenchRun
{
    private const string ApiKey = "sk-bench-not-a-real-key";
    private static readonly string[] DaemonModes = ["origin", "sentence", "tts"]; // tts only when --paths names it

    /// <summary>The calibration path's name (the report knows it by this name).</summary>
    public const string RelayPath = "relay (calibration)";

    /// <summary>Runs everything; returns the process exit code.</summary>
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(options.OutDir);
        var script = new TokenScript(options.Tokens);
        await using var upstream = new FakeUpstream(new UpstreamPlan(script, options.DelayAt(1), 0));
        Log($"fake upstream on {upstream.BaseUrl}: {options.Tokens} tokens, {options.DelayMs} ms apart ({options.DelayMsAt1000} ms at 1,000 streams)");

        var ini = Path.Combine(options.OutDir, "daemon.ini");
        await File.WriteAllTextAsync(
            ini,
            "[limits]\nmax_connections = 12000\nmax_streams = 3000\nstreams_per_connection = 8\n[openai]\nmax_retries = 0\n",
            cancellationToken).ConfigureAwait(false);

        using var redis = options.Variants.Values.Any(v => v.Contains("{redis}", StringComparison.Ordinal)) ? StartRedis(options) : null;
        await using var daemons = new DaemonSet();
        foreach (var engine in options.Engines)
        {
            var daemon = daemons.Add(engine, StartDaemon(options, upstream, ini, engine, $"daemon-{engine}.log"));
            var daemonProblem = await daemon.WaitReadyAsync("/healthz", TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            if (daemonProblem is not null)
            {
                Log($"daemon ({engine}) did not start: " + daemonProblem);
                return 1;
            }

            Log($"daemon pid {daemon.Pid} on 127.0.0.1:{daemon.Port} (engine {engine})");
        }

        var (peer, peerProblem) = await StartPeerAsync(options, cancellationToken).ConfigureAwait(false);
        using var peerOwner = peer;
        Log(peer is null ? "peer: n/a — " + peerProblem : $"peer (Portkey) pid {peer.Pid} on 127.0.0.1:{peer.Port}");

        using var relay = options.Paths.Contains("relay") ? await StartRelayAsync(options, upstream, cancellationToken).ConfigureAwait(false) : null;
        var paths = new List<(IStreamPath Path, ProcessProbe? Probe)>();
        if (options.Paths.Contains("floor"))
        {
            paths.Add((new SsePath("floor", upstream.BaseUrl), null));
        }

        if (relay is not null)
        {
            paths.Add((new SsePath(RelayPath, $"http://127.0.0.1:{relay.Port}/v1"), new ProcessProbe(relay.Pid) { CountSyscalls = options.Syscalls }));
        }

        // Each mode on every engine back to back, so that the engines' rows of one mode are measured minutes apart at most.
        foreach (var mode in DaemonModes.Where(options.Paths.Contains))
        {
            foreach (var (engine, daemon) in daemons.Daemons)
            {
                var url = new Uri($"ws://127.0.0.1:{daemon.Port}/ws");
                paths.Add((new WsPath(DaemonPath(mode, engine), url, originStream: mode == "origin", segment: mode == "tts" ? "tts" : null, extraData: options.ExtraData(engine)), new ProcessProbe(daemon.Pid) { CountSyscalls = options.Syscalls }));
            }
        }

        if (peer is not null && options.Paths.Contains("peer"))
        {
            paths.Add((new SsePath(
                "peer (Portkey)",
                $"http://127.0.0.1:{peer.Port}/v1",
                new KeyValuePair<string, string>("x-portkey-provider", "openai"),
                new KeyValuePair<string, string>("x-portkey-custom-host", upstream.BaseUrl)), new ProcessProbe(peer.Pid)));
        }

        ChatBodies.Pad(options.PromptBytes);
        var runner = new CellRunner(upstream, script);
        var results = new List<CellResult>();
        try
        {
            // JIT and connection-pool warm-up of every path, unrecorded: short delays so it costs seconds.
            foreach (var (path, _) in paths)
            {
                var w = await runner.RunAsync(path, 32, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(3), null, options.PhaseLimit, cancellationToken).ConfigureAwait(false);
                Log($"warm-up {path.Name}: {w.Stats.Completed}/{w.Stats.Streams} ok" + (w.Stats.FirstError is { } e ? " — " + e : string.Empty));
            }

            // Let the gateways' background JIT (tier-1 recompilation of what the warm-up made hot) finish before the
            // first measured cell: otherwise it is counted as CPU per token of the 1-stream cell, where it is most of it.
            await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);

            foreach (var c in options.Concurrency)
            {
                foreach (var (path, probe) in paths)
                {
                    if (probe is not null && !IsAlive(probe))
                    {
                        Log($"{path.Name}: gateway process is gone, skipping");
                        continue;
                    }

                    var result = await runner.RunAsync(path, c, options.DelayAt(c), options.WarmupAt(c), options.WindowAt(c), probe, options.PhaseLimit, cancellationToken).ConfigureAwait(false);
                    results.Add(result);
                    Log(Describe(result));
                }

                // The floor again after the gateways: the report subtracts the quieter of the two floor runs, so a burst
                // of noise from other work on the machine during one floor run cannot make a gateway look free.
                if (paths.Count > 1 && paths[0].Path.Name == "floor")
                {
                    var again = await runner.RunAsync(paths[0].Path, c, options.DelayAt(c), options.WarmupAt(c), options.WindowAt(c), null, options.PhaseLimit, cancellationToken).ConfigureAwait(false);
                    results.Add(again with { Path = "floor (again)" });
                    Log(Describe(again with { Path = "floor (again)" }));
                }
            }
        }
        finally
        {
            foreach (var (path, _) in paths)
            {
                await path.DisposeAsync().ConfigureAwait(false);
            }
        }

        var resumeLog = await ResumeLogAsync(daemons, redis is null ? null : new ProcessProbe(redis.Pid), cancellationToken).ConfigureAwait(false);

        // The idle test once per engine, each on a fresh daemon of its own.
        var idle = new Dictionary<string, IdleResult?>(StringComparer.Ordinal);
        foreach (var engine in options.Idle > 0 ? options.Engines : [])
        {
            idle[engine] = await RunIdleAsync(options, upstream, ini, engine, cancellationToken).ConfigureAwait(false);
        }

        var report = new Report(options, results, idle, peerProblem, clock.Elapsed);
        var markdown = report.ToMarkdown() + resumeLog;
        await File.WriteAllTextAsync(Path.Combine(options.OutDir, "latest.md"), markdown, cancellationToken).ConfigureAwait(false);
        Console.Out.Write(report.ToConsole());
        Console.Out.WriteLine(report.Headline());
        return 0;
    }

    /// <summary>
    /// What each daemon that wrote resumable logs to Redis paid for them over the whole run (its /metrics): writes
    /// (round trips), frames, and round trips per relayed token. Empty when none did.
    /// </summary>
    private static async Task<string> ResumeLogAsync(DaemonSet daemons, ProcessProbe? redis, CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        var lines = new List<string>();
        foreach (var (label, daemon) in daemons.Daemons)
        {
            var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{daemon.Port}/metrics"), cancellationToken).ConfigureAwait(false);
            double Metric(string name) => text.Split('\n').Where(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Select(l => double.Parse(l[(name.Length + 1)..], CultureInfo.InvariantCulture)).FirstOrDefault();
            var writes = Metric("gptws_resume_redis_writes_total");
            if (writes > 0)
            {
                var frames = Metric("gptws_resume_redis_frames_total");
                var tokens = Metric("gptws_tokens_relayed_total");
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"- {label}: {frames:0} frames in {writes:0} Redis writes ({frames / writes:F1} frames a write), {writes / tokens:F3} round trips per relayed token ({tokens:0} tokens, warm-up included)"));
            }
        }

        if (redis is not null && lines.Count > 0)
        {
            // redis-server shares the cores: what it spent is not in any daemon's CPU per token, but it is spent.
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"- redis-server: {redis.CpuMicroseconds() / 1e6:F1} s CPU over the whole run (quota and resume logs of every variant, warm-up included)"));
        }

        foreach (var line in lines)
        {
            Log("resume log " + line[2..]);
        }

        return lines.Count == 0 ? string.Empty : "\n## Resume log in Redis (whole run)\n\n" + string.Join("\n", lines) + "\n";
    }

    /// <summary>A redis-server on a free loopback port for the variants that name <c>{redis}</c>, nothing saved.</summary>
    private static GatewayProcess StartRedis(BenchOptions options)
    {
        var port = GatewayProcess.FreePort();
        options.RedisUrl = $"redis://127.0.0.1:{port}";
        Log("redis-server on " + options.RedisUrl);
        return GatewayProcess.Start("redis-server", ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], port, Path.Combine(options.OutDir, "redis.log"), new Dictionary<string, string>());
    }

    /// <summary>The row name of a daemon path: <c>daemon origin (kestrel)</c>.</summary>
    public static string DaemonPath(string mode, string engine) => $"daemon {mode} ({engine})";

    private static GatewayProcess StartDaemon(BenchOptions options, FakeUpstream upstream, string ini, string label, string logName)
    {
        var port = GatewayProcess.FreePort();
        var (engine, dll) = options.Variant(label);
        if (options.ExtraIni(label) is { Length: > 0 } extra)
        {
            // The variant's own ini: the run's, plus its text.
            var own = Path.Combine(options.OutDir, $"daemon-{label}.ini");
            File.WriteAllText(own, File.ReadAllText(ini) + extra.Replace("{redis}", options.RedisUrl, StringComparison.Ordinal) + "\n");
            ini = own;
        }

        return GatewayProcess.Start(
            "dotnet",
            [dll, "--port", port.ToString(CultureInfo.InvariantCulture), "--engine", engine, "--api-key", ApiKey, "--base-url", upstream.BaseUrl, "--log-level", "Warn", "--config", ini],
            port,
            Path.Combine(options.OutDir, logName),
            options.EnvironmentOf(label),
            options.OutDir);
    }

    /// <summary>
    /// Starts the bare TCP relay (<see cref="TcpRelay"/>) as its own process with the socket engine settings the daemon
    /// runs with (inline completions, no thread-pool spinning, background GC); null, logged, if it does not come up.
    /// </summary>
    private static async Task<GatewayProcess?> StartRelayAsync(BenchOptions options, FakeUpstream upstream, CancellationToken cancellationToken)
    {
        var port = GatewayProcess.FreePort();
        var relay = GatewayProcess.Start(
            "dotnet",
            [typeof(TcpRelay).Assembly.Location, "relay", "--port", port.ToString(CultureInfo.InvariantCulture), "--target", "127.0.0.1:" + upstream.Port.ToString(CultureInfo.InvariantCulture)],
            port,
            Path.Combine(options.OutDir, "relay.log"),
            new Dictionary<string, string>
            {
                ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1",
                ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0",
                ["DOTNET_gcConcurrent"] = "1",
            });
        var problem = await relay.WaitListeningAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (problem is null)
        {
            Log($"relay (calibration) pid {relay.Pid} on 127.0.0.1:{port}");
            return relay;
        }

        Log("relay (calibration) did not start: " + problem);
        relay.Dispose();
        return null;
    }

    private static async Task<(GatewayProcess? Peer, string? Problem)> StartPeerAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        if (options.PeerUnavailable is { } reason)
        {
            return (null, reason);
        }

        if (options.PortkeyScript is null || !File.Exists(options.PortkeyScript))
        {
            return (null, "Portkey not installed (no --portkey start-server.js)");
        }

        var port = GatewayProcess.FreePort();
        var args = new List<string>();
        if (options.PortkeyPreload is { } preload)
        {
            args.AddRange(["--import", new Uri(Path.GetFullPath(preload)).AbsoluteUri]);
        }

        args.AddRange([options.PortkeyScript, "--port=" + port.ToString(CultureInfo.InvariantCulture), "--headless"]);
        GatewayProcess? peer = null;
        try
        {
            peer = GatewayProcess.Start("node", args, port, Path.Combine(options.OutDir, "portkey.log"), new Dictionary<string, string> { ["NODE_ENV"] = "production" });
            var problem = await peer.WaitReadyAsync("/", TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            if (problem is null)
            {
                var owned = peer;
                peer = null;
                return (owned, null);
            }

            return (null, "Portkey did not start: " + problem);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (null, "cannot run node: " + e.Message);
        }
        finally
        {
            peer?.Dispose();
        }
    }

    private static async Task<IdleResult?> RunIdleAsync(BenchOptions options, FakeUpstream upstream, string ini, string engine, CancellationToken cancellationToken)
    {
        using var fresh = StartDaemon(options, upstream, ini, engine, $"daemon-idle-{engine}.log");
        var problem = await fresh.WaitReadyAsync("/healthz", TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            Log($"idle test ({engine}): daemon did not start: " + problem);
            return null;
        }

        Log($"idle test: fresh daemon pid {fresh.Pid} on 127.0.0.1:{fresh.Port} (engine {engine})");
        await using var path = new WsPath("idle", new Uri($"ws://127.0.0.1:{fresh.Port}/ws"), true);
        var result = await IdleTest.RunAsync(path, new ProcessProbe(fresh.Pid), options.Idle, TimeSpan.FromSeconds(120), cancellationToken).ConfigureAwait(false);
        Log($"idle ({engine}): {result.Open}/{result.Requested} open ({result.Failed} failed{(result.FirstError is { } e ? ": " + e : string.Empty)}), "
            + $"RSS {result.BaselineKiB / 1024.0:F1} → {result.HeldKiB / 1024.0:F1} MiB, {result.KiBPerConnection:F1} KiB/conn, pings {result.PingsAnswered}/100, connect {result.ConnectTime.TotalSeconds:F1} s");
        return result;
    }

    private static bool IsAlive(ProcessProbe probe) => File.Exists($"/proc/{probe.Pid}/stat");

    private static string Describe(CellResult r)
    {
        var s = r.Stats;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"C={r.Concurrency,-4} {r.Path,-30} ok {s.Completed}/{s.Streams} TTFT p50 {s.Ttft.At(50):F2} p99 {s.Ttft.At(99):F2} ms (overhead p99 {s.TtftOverhead.At(99):F2}, of it request out p50 {s.RequestPath.At(50):F2} p99 {s.RequestPath.At(99):F2}), lat p99 {s.Latency.At(99):F2} ms, gap+ p99 {s.Stretch.At(99):F2} ms, "
            + $"lost {s.LostTokens} reord {s.Reordered}, cpu/tok {(r.CpuPerToken is { } cpu ? cpu.ToString("F1", CultureInfo.InvariantCulture) : "-")} µs (bench {r.BenchCpuPerToken:F1}), "
            + $"{Gc(r)}{r.Elapsed.TotalSeconds:F1} s{(r.TimedOut ? " TIMED OUT" : string.Empty)}{(s.FirstError is { } e ? " — " + e : string.Empty)}");
    }

    private static string Gc(CellResult r) => r.Runtime is { } g
        ? string.Create(CultureInfo.InvariantCulture, $"alloc/tok {r.AllocatedBytesPerToken:F0} B, GCs {g.Collections:0} paused {g.PauseSeconds * 1000:F1} ms, ")
        : string.Empty;

    private static void Log(string line) => Console.Error.WriteLine("[bench] " + line);
}
