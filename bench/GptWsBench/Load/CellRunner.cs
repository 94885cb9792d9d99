using System.Diagnostics;
using GptWsBench.Measure;
using GptWsBench.Upstream;

namespace GptWsBench.Load;

/// <summary>
/// Runs one cell (a path at a concurrency C) as one continuous phase with a time window, so that every recorded
/// stream lives its whole life at exactly C concurrent streams:
/// C clients run streams back to back, their first starts spread evenly over one stream's length (a steady start rate,
/// not one burst); streams that start during the warm-up are not recorded; streams that start inside the measured
/// window are; after the window the clients keep running unrecorded streams until every recorded one has ended, then
/// stop. The gateway's CPU and RSS are probed at the window's edges, and CPU per token divides the window's CPU by the
/// tokens that reached the clients inside the window. The whole phase is bounded in time.
/// </summary>
public sealed class CellRunner
{
    private readonly FakeUpstream _upstream;
    private readonly TokenScript _script;

    /// <summary>Creates a runner driving <paramref name="upstream"/> with <paramref name="script"/>.</summary>
    public CellRunner(FakeUpstream upstream, TokenScript script)
    {
        _upstream = upstream;
        _script = script;
    }

    /// <summary>Runs the cell.</summary>
    public async Task<CellResult> RunAsync(IStreamPath path, int concurrency, TimeSpan delay, TimeSpan warmup, TimeSpan window, ProcessProbe? gateway, TimeSpan limit, CancellationToken cancellationToken)
    {
        var workers = new IStreamWorker[concurrency];
        try
        {
            await OpenAsync(path, workers, cancellationToken).ConfigureAwait(false);
            return await PhaseAsync(path, workers, delay, warmup, window, gateway, limit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var w in workers)
            {
                if (w is not null && !ReferenceEquals(w, path))
                {
                    await w.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private static async Task OpenAsync(IStreamPath path, IStreamWorker[] workers, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(64);
        var tasks = new Task[workers.Length];
        for (var i = 0; i < workers.Length; i++)
        {
            var index = i;
            tasks[i] = Task.Run(
                async () =>
                {
                    await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                    try
                    {
                        workers[index] = await path.OpenWorkerAsync(cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        gate.Release();
                    }
                },
                cancellationToken);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private async Task<CellResult> PhaseAsync(
        IStreamPath path, IStreamWorker[] workers, TimeSpan delay, TimeSpan warmup, TimeSpan window, ProcessProbe? gateway, TimeSpan limit, CancellationToken cancellationToken)
    {
        var streamLength = delay * _script.Count;

        // Room for every stream any client can start before the phase's limit at full speed, plus slack.
        var capacity = (int)Math.Min(int.MaxValue / _script.Count / 2, workers.Length * (((warmup + window + streamLength + streamLength) / streamLength) + 3));
        var plan = new UpstreamPlan(_script, delay, capacity);
        var recorder = new CellRecorder(_script, capacity);
        _upstream.Plan = plan;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        var started = Stopwatch.GetTimestamp();
        var windowStart = started + Ticks(warmup);
        var windowEnd = windowStart + Ticks(window);
        var next = -1;
        var recordedInFlight = 0;
        var probes = ProbeWindowAsync(gateway, path is WsPath ws ? RuntimeProbe.MetricsUrl(ws.Url) : null, windowStart, windowEnd, deadline.Token);
        var loops = new Task[workers.Length];
        for (var w = 0; w < workers.Length; w++)
        {
            var index = w;
            var offset = workers.Length == 1 ? TimeSpan.Zero : streamLength * index / workers.Length;
            loops[w] = Task.Run(
                async () =>
                {
                    if (offset > TimeSpan.Zero)
                    {
                        await Task.Delay(offset, deadline.Token).ConfigureAwait(false);
                    }

                    while (!deadline.IsCancellationRequested)
                    {
                        var now = Stopwatch.GetTimestamp();
                        if (now >= windowEnd && Volatile.Read(ref recordedInFlight) == 0)
                        {
                            return;
                        }

                        var id = Interlocked.Increment(ref next);
                        if (id >= capacity)
                        {
                            return;
                        }

                        var recorded = now >= windowStart && now < windowEnd;
                        recorder.Recorded[id] = recorded;
                        if (recorded)
                        {
                            Interlocked.Increment(ref recordedInFlight);
                        }

                        try
                        {
                            await workers[index].RunAsync(recorder.Begin(id), deadline.Token).ConfigureAwait(false);
                        }
                        finally
                        {
                            if (recorded)
                            {
                                Interlocked.Decrement(ref recordedInFlight);
                            }
                        }

                        if (workers[index] is WsWorker { IsOpen: false } broken && !deadline.IsCancellationRequested)
                        {
                            // The daemon dropped this client: reconnect so that the cell goes on at the same concurrency.
                            await broken.DisposeAsync().ConfigureAwait(false);
                            workers[index] = await path.OpenWorkerAsync(deadline.Token).ConfigureAwait(false);
                        }
                    }
                },
                CancellationToken.None);
        }

        var timedOut = false;
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            timedOut = true;
        }

        timedOut |= deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
        var window0 = await probes.ConfigureAwait(false);
        recorder.StreamsUsed = Math.Min(capacity, next + 1);
        var stats = PhaseStats.Compute(recorder, plan, windowStart, windowEnd, path.ReleaseLookahead);
        return new CellResult(path.Name, workers.Length, delay, stats, window0.GatewayCpu, window0.PeakKiB, Stopwatch.GetElapsedTime(started), timedOut)
        {
            BenchCpuMicroseconds = window0.BenchCpu,
            Runtime = window0.Runtime,
            Syscalls = window0.Syscalls,
        };
    }

    /// <summary>
    /// Reads CPU (gateway and the bench itself) and, for the daemon, its GC counters at the window's start and end, and
    /// samples the gateway's RSS in between.
    /// </summary>
    private static async Task<(long? GatewayCpu, long? PeakKiB, long BenchCpu, RuntimeDelta? Runtime, IReadOnlyDictionary<string, long>? Syscalls)> ProbeWindowAsync(ProcessProbe? gateway, Uri? metrics, long windowStart, long windowEnd, CancellationToken cancellationToken)
    {
        var self = new ProcessProbe(Environment.ProcessId);
        SyscallProbe? syscalls = null;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, (windowStart - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency)), cancellationToken).ConfigureAwait(false);
            var selfBefore = self.CpuMicroseconds();
            var gatewayBefore = gateway?.CpuMicroseconds() ?? 0;
            var runtimeBefore = metrics is null ? null : await RuntimeProbe.ReadAsync(metrics, cancellationToken).ConfigureAwait(false);
            gateway?.StartSampling(TimeSpan.FromMilliseconds(20));
            syscalls = gateway is { CountSyscalls: true } ? SyscallProbe.Start(gateway.Pid) : null;
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, (windowEnd - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency)), cancellationToken).ConfigureAwait(false);
            long? gatewayCpu = gateway is null ? null : gateway.CpuMicroseconds() - gatewayBefore;
            var selfCpu = self.CpuMicroseconds() - selfBefore;

            // After the CPU reads: waiting for perf to print and exit must not stretch the window the CPU covers.
            var calls = syscalls is null ? null : await syscalls.StopAsync().ConfigureAwait(false);
            syscalls = null;
            var runtimeAfter = runtimeBefore is null ? null : await RuntimeProbe.ReadAsync(metrics!, cancellationToken).ConfigureAwait(false);
            long? peak = gateway is null ? null : await gateway.StopSamplingAsync().ConfigureAwait(false);
            return (gatewayCpu, peak, selfCpu, runtimeAfter?.Since(runtimeBefore!), calls);
        }
        catch (OperationCanceledException)
        {
            if (gateway is not null)
            {
                await gateway.StopSamplingAsync().ConfigureAwait(false);
            }

            if (syscalls is not null)
            {
                await syscalls.StopAsync().ConfigureAwait(false);
            }

            return (null, null, 0, null, null);
        }
    }
}
