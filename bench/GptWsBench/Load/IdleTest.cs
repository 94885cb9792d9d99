using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using GptWsBench.Measure;

namespace GptWsBench.Load;

/// <summary>
/// Holds N idle WebSockets open on a fresh daemon and reports its memory: VmRSS before (after a small warm-up batch was
/// opened and closed, so the connection code is already jitted) and after, settled. A sample of connections is pinged
/// at the end to prove they are alive.
/// </summary>
public static class IdleTest
{
    /// <summary>Runs the test against the daemon at <paramref name="path"/>'s URL, probed by <paramref name="probe"/>.</summary>
    public static async Task<IdleResult> RunAsync(WsPath path, ProcessProbe probe, int count, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        var warm = await OpenAsync(path, 200, deadline.Token).ConfigureAwait(false);
        Close(warm.Sockets);
        await Task.Delay(1000, deadline.Token).ConfigureAwait(false);
        var baseline = probe.StatusKiB("VmRSS");
        var started = Stopwatch.GetTimestamp();
        var opened = await OpenAsync(path, count, deadline.Token).ConfigureAwait(false);
        var connectTime = Stopwatch.GetElapsedTime(started);
        try
        {
            // Let the daemon settle: accept loops done, first pings not yet due (30 s).
            long held = 0;
            for (var i = 0; i < 20; i++)
            {
                await Task.Delay(300, deadline.Token).ConfigureAwait(false);
                held = Math.Max(held, probe.StatusKiB("VmRSS"));
            }

            var hwm = probe.StatusKiB("VmHWM");
            var alive = await PingSampleAsync(opened.Sockets, 100, deadline.Token).ConfigureAwait(false);
            var open = opened.Sockets.Count(s => s.State == WebSocketState.Open);
            return new IdleResult(count, open, opened.Failed, opened.FirstError, baseline, held, hwm, alive, connectTime);
        }
        finally
        {
            Close(opened.Sockets);
        }
    }

    private static async Task<(List<ClientWebSocket> Sockets, int Failed, string? FirstError)> OpenAsync(WsPath path, int count, CancellationToken cancellationToken)
    {
        var sockets = new ClientWebSocket?[count];
        var failed = 0;
        string? firstError = null;
        using var gate = new SemaphoreSlim(32);
        var tasks = new Task[count];
        for (var i = 0; i < count; i++)
        {
            var index = i;
            tasks[i] = Task.Run(
                async () =>
                {
                    await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                    try
                    {
                        sockets[index] = await path.ConnectAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is WebSocketException or HttpRequestException or OperationCanceledException)
                    {
                        Interlocked.Increment(ref failed);
                        Interlocked.CompareExchange(ref firstError, e.Message, null);
                    }
                    finally
                    {
                        gate.Release();
                    }
                },
                CancellationToken.None);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        return ([.. sockets.OfType<ClientWebSocket>()], failed, firstError);
    }

    private static async Task<int> PingSampleAsync(List<ClientWebSocket> sockets, int sample, CancellationToken cancellationToken)
    {
        var ping = Encoding.UTF8.GetBytes("{\"action\":\"ping\"}");
        var step = Math.Max(1, sockets.Count / sample);
        var alive = 0;
        var buffer = new byte[4096];
        for (var i = 0; i < sockets.Count; i += step)
        {
            try
            {
                await sockets[i].SendAsync(ping, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                var r = await sockets[i].ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Text && buffer.AsSpan(0, r.Count).IndexOf("pong"u8) >= 0)
                {
                    alive++;
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
        }

        return alive;
    }

    private static void Close(List<ClientWebSocket> sockets)
    {
        foreach (var s in sockets)
        {
            s.Abort();
            s.Dispose();
        }
    }
}
