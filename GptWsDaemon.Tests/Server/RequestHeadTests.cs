using System.Diagnostics;
using System.Text;
using GptWsDaemon.Server.Engines;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// Request heads that never end. Kestrel closes a socket whose head is not complete within
/// limits.handshake_timeout_seconds and answers an oversized request line with an error; HttpListener can do neither,
/// and the tests named HttpListenerLimit pin that documented limit (README "Exposing the daemon").
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class RequestHeadTests
{
    [Test, CancelAfter(30000)]
    public async Task OneByteAndHalfHeadHandshakes_Kestrel_ClosedAfterHeadTimeout(CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { Engine = EngineKind.Kestrel, HandshakeTimeout = TimeSpan.FromSeconds(2) });
        var port = daemon.Settings.Port;
        var sockets = new List<RawHttp>();
        for (var i = 0; i < 20; i++)
        {
            var raw = await RawHttp.ConnectAsync(port, ct);
            await raw.SendAsync(i % 2 == 0 ? "G" : $"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgr", ct);
            sockets.Add(raw);
        }

        var started = Stopwatch.StartNew();
        var closed = await Task.WhenAll(sockets.Select(s => s.ClosedWithinAsync(TimeSpan.FromSeconds(5), ct)));
        var elapsed = started.Elapsed;
        sockets.ForEach(s => s.Dispose());

        // Meanwhile and afterwards the daemon serves normally.
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "ok", data = new { query = "hi" } }, ct);
        var final = (await client.ReadStreamAsync("ok", ct)).Final;
        Assert.Multiple(() =>
        {
            Assert.That(closed, Is.All.True, "every unfinished head closed");
            Assert.That(elapsed, Is.LessThan(TimeSpan.FromSeconds(4.5)));
            Assert.That(final.GetProperty("code").GetInt32(), Is.EqualTo(0));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task OneByteHandshakes_HttpListenerLimit_StayOpenPastKestrelsTimeout(CancellationToken ct)
    {
        // README "Exposing the daemon": HttpListener times out only sockets that sent nothing (after 90 s); one byte
        // keeps a socket open. This pins that limit so the README stays true; use Kestrel or nginx on exposed ports.
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { Engine = EngineKind.HttpListener, HandshakeTimeout = TimeSpan.FromSeconds(1) });
        using var raw = await RawHttp.ConnectAsync(daemon.Settings.Port, ct);
        await raw.SendAsync("G", ct);

        Assert.That(await raw.ClosedWithinAsync(TimeSpan.FromSeconds(3), ct), Is.False);
    }

    [Test, CancelAfter(30000)]
    public async Task EndlessRequestLine_Kestrel_431Or414AndCut(CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { Engine = EngineKind.Kestrel });
        using var raw = await RawHttp.ConnectAsync(daemon.Settings.Port, ct);
        var sent = await SendEndlessLineAsync(raw, 16 * 1024 * 1024, ct);
        var head = await raw.ReadHeadAsync(ct);

        Assert.Multiple(() =>
        {
            Assert.That(head.Status, Is.EqualTo(414).Or.EqualTo(431).Or.EqualTo(400));
            Assert.That(sent, Is.LessThan(16 * 1024 * 1024), "the socket was cut before everything was sent");
        });
    }

    [Test, CancelAfter(30000)]
    public async Task EndlessRequestLine_HttpListenerLimit_StillReading(CancellationToken ct)
    {
        // README "Exposing the daemon": HttpListener reads a request line with no end into memory (its 32 KiB head cap
        // is checked on a buffer it keeps emptying). Pinned here with 4 MiB: all of it is taken and no answer comes.
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { Engine = EngineKind.HttpListener });
        using var raw = await RawHttp.ConnectAsync(daemon.Settings.Port, ct);
        var sent = await SendEndlessLineAsync(raw, 4 * 1024 * 1024, ct);

        Assert.Multiple(async () =>
        {
            Assert.That(sent, Is.EqualTo(4 * 1024 * 1024));
            Assert.That(await raw.ClosedWithinAsync(TimeSpan.FromSeconds(1), ct), Is.False);
        });
    }

    /// <summary>Sends "GET /" and then 'a's with no line end; returns how many bytes went before the peer cut the socket.</summary>
    private static async Task<int> SendEndlessLineAsync(RawHttp raw, int total, CancellationToken ct)
    {
        await raw.SendAsync("GET /", ct);
        var block = Encoding.ASCII.GetBytes(new string('a', 64 * 1024));
        var sent = 0;
        try
        {
            while (sent < total)
            {
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
                stall.CancelAfter(TimeSpan.FromSeconds(3)); // a peer that stops reading without closing: stop too
                await raw.Socket.SendAsync(block, System.Net.Sockets.SocketFlags.None, stall.Token);
                sent += block.Length;
            }
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
        }

        return sent;
    }
}
