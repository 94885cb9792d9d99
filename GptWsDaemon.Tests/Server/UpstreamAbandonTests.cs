using System.Diagnostics;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// An upstream response the daemon gives up on ends with a TCP reset, seen by an upstream that is writing as fast as it
/// can: a graceful close (FIN, then draining) leaves it blocked against our zero window, generating a paid answer.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class UpstreamAbandonTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(1);

    [Test, CancelAfter(30000)]
    public async Task SlowReaderDropped_FloodingUpstreamSeesTheEndWithin1s(CancellationToken ct)
    {
        using var drop = new LogWatch("dropped: slow reader");
        using var upstream = new FloodingUpstream();
        await using var daemon = await DaemonFixture.StartAsync(upstream.BaseUrl, s => s with { SendQueueFrames = 16 });
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetBuffer(1024, 1024));

        await client.SendAsync(new { seq = "slow", data = new { query = "q" } }, ct);
        await upstream.Requested.WaitAsync(ct);
        var droppedAt = await drop.Seen.WaitAsync(TimeSpan.FromSeconds(20), ct);
        var ended = await upstream.Ended.WaitAsync(TimeSpan.FromSeconds(10), ct);

        TestContext.Out.WriteLine($"upstream saw the end ({ended.How}) {Stopwatch.GetElapsedTime(droppedAt, ended.At).TotalMilliseconds:0} ms after the drop, {upstream.BytesSent} bytes sent");
        Assert.That(ended.How, Is.EqualTo("reset"), "a FIN leaves a writing upstream blocked and generating");
        Assert.That(Stopwatch.GetElapsedTime(droppedAt, ended.At), Is.LessThan(Budget));
    }

    [Test, CancelAfter(30000)]
    public async Task Cancel_FloodingUpstreamSeesTheEndWithin1s(CancellationToken ct)
    {
        using var upstream = new FloodingUpstream();
        // A queue deep enough that this client, a little slower than the flood, is not dropped as a slow reader.
        await using var daemon = await DaemonFixture.StartAsync(upstream.BaseUrl, s => s with { SendQueueFrames = 1_000_000 });
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "c", data = new { query = "q" } }, ct);
        var final = DrainUntilFinalAsync(client.Socket, ct); // a client that keeps up, without parsing every frame
        await upstream.Requested.WaitAsync(ct);
        await Task.Delay(200, ct); // the flood is under way
        var cancelledAt = Stopwatch.GetTimestamp();
        await client.SendAsync(new { seq = "c", action = "cancel" }, ct);
        var ended = await upstream.Ended.WaitAsync(TimeSpan.FromSeconds(10), ct);
        var last = await final;

        TestContext.Out.WriteLine($"upstream saw the end ({ended.How}) {Stopwatch.GetElapsedTime(cancelledAt, ended.At).TotalMilliseconds:0} ms after the cancel, {upstream.BytesSent} bytes sent");
        Assert.That(last, Does.Contain("\"finish_reason\":\"cancelled\""));
        Assert.That(ended.How, Is.EqualTo("reset"), "a FIN leaves a writing upstream blocked and generating");
        Assert.That(Stopwatch.GetElapsedTime(cancelledAt, ended.At), Is.LessThan(Budget));
    }

    [Test, CancelAfter(30000)]
    public async Task ClientDisconnects_FloodingUpstreamSeesAResetWithin1s(CancellationToken ct)
    {
        using var upstream = new FloodingUpstream();
        await using var daemon = await DaemonFixture.StartAsync(upstream.BaseUrl, s => s with { SendQueueFrames = 1_000_000 });
        var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "d", data = new { query = "q" } }, ct);
        await upstream.Requested.WaitAsync(ct);
        await Task.Delay(200, ct);
        var goneAt = Stopwatch.GetTimestamp();
        client.Socket.Abort(); // the TCP connection closes under the daemon
        client.Dispose();
        var ended = await upstream.Ended.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.That(ended.How, Is.EqualTo("reset"));
        Assert.That(Stopwatch.GetElapsedTime(goneAt, ended.At), Is.LessThan(Budget));
    }

    [Test, CancelAfter(30000)]
    public async Task MaxStreamSecondsReached_FloodingUpstreamSeesAResetWithin1s(CancellationToken ct)
    {
        using var upstream = new FloodingUpstream();
        await using var daemon = await DaemonFixture.StartAsync(upstream.BaseUrl, s => s with { SendQueueFrames = 1_000_000, MaxStreamDuration = TimeSpan.FromSeconds(1) });
        using var client = await daemon.ConnectAsync(ct);

        var sentAt = Stopwatch.GetTimestamp();
        await client.SendAsync(new { seq = "t", data = new { query = "q" } }, ct);
        var final = await DrainUntilFinalAsync(client.Socket, ct);
        var ended = await upstream.Ended.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.That(final, Does.Contain("\"code\":2004"));
        Assert.That(ended.How, Is.EqualTo("reset"));
        Assert.That(Stopwatch.GetElapsedTime(sentAt, ended.At), Is.LessThan(TimeSpan.FromSeconds(1) + Budget));
    }

    /// <summary>Receives frames until one is a final frame (finish_reason not null); returns it.</summary>
    private static async Task<string> DrainUntilFinalAsync(System.Net.WebSockets.ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
            {
                continue;
            }

            var span = message.GetBuffer().AsSpan(0, (int)message.Length);
            if (span.IndexOf("\"finish_reason\":null"u8) < 0)
            {
                return System.Text.Encoding.UTF8.GetString(span);
            }

            message.SetLength(0);
        }
    }
}
