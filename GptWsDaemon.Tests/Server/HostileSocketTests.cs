using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using GptWsDaemon.Server.Engines;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// Sockets that never finish a message, on both engines: a daemon-wide budget for the bytes unfinished messages hold,
/// and a deadline for each message (unfinished request heads: <see cref="RequestHeadTests"/>).
/// </summary>
[Category("loopback")]
[TestFixtureSource(typeof(EngineTests), nameof(EngineTests.Engines))]
public sealed class HostileSocketTests(EngineKind engine) : EngineTests(engine)
{
    [Test, CancelAfter(30000)]
    public async Task UnfinishedMessages_OverPendingBudget_Closed1009AndMemoryNotTaken(CancellationToken ct)
    {
        const int Budget = 256 * 1024;
        await using var daemon = await StartDemoDaemonAsync(s => s with { PendingMessageBytes = Budget });
        var clients = new List<WsTestClient>();
        var peak = 0L;
        try
        {
            // Each client holds a 100 KB message it never finishes: the third cannot fit in 256 KiB.
            var chunk = Encoding.UTF8.GetBytes(new string('a', 100_000));
            for (var i = 0; i < 4; i++)
            {
                var client = await daemon.ConnectAsync(ct);
                clients.Add(client);
                await client.Socket.SendAsync(Encoding.UTF8.GetBytes("{\"seq\":\"x\",\"data\":{\"query\":\""), WebSocketMessageType.Text, false, ct);
                await client.Socket.SendAsync(chunk, WebSocketMessageType.Text, false, ct);
                await Task.Delay(150, ct);
                peak = Math.Max(peak, daemon.Server.PendingMessageBytes);
            }

            var refused = clients[2];
            var frame = await refused.ReceiveAsync(ct);
            var end = await ReceiveEndAsync(refused.Socket, ct);
            Assert.Multiple(() =>
            {
                Assert.That(frame?.GetProperty("code").GetInt32(), Is.EqualTo(1007));
                Assert.That(frame?.GetProperty("msg").GetString(), Does.Contain("limits.pending_message_bytes"));
                // A close frame with 1009, or a reset right behind it: the client's unread message makes the close an RST.
                Assert.That(end, Is.EqualTo("close 1009").Or.EqualTo("reset"), "then the daemon closes");
                Assert.That(peak, Is.LessThanOrEqualTo(Budget), "never more reserved than the budget");
                Assert.That(clients[0].Socket.State, Is.EqualTo(WebSocketState.Open), "connections within the budget stay");
            });
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Socket.Abort();
                c.Dispose();
            }
        }

        // The budget comes back as the sockets go, and a normal request streams again.
        while (daemon.Server.PendingMessageBytes > 0)
        {
            await Task.Delay(20, ct);
        }

        using var fresh = await daemon.ConnectAsync(ct);
        await fresh.SendAsync(new { seq = "ok", data = new { query = "hi" } }, ct);
        Assert.That((await fresh.ReadStreamAsync("ok", ct)).Final.GetProperty("code").GetInt32(), Is.EqualTo(0));
    }

    [Test, CancelAfter(30000)]
    public async Task FragmentTrickle_PastMessageTimeout_Closed1008(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { MessageTimeout = TimeSpan.FromSeconds(1) });
        using var client = await daemon.ConnectAsync(ct);
        var started = Stopwatch.StartNew();
        await client.Socket.SendAsync(Encoding.UTF8.GetBytes("{\"seq\":"), WebSocketMessageType.Text, false, ct);

        // A fragment every 200 ms keeps the socket busy but never finishes the message.
        using var trickle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sender = Task.Run(async () =>
        {
            try
            {
                while (!trickle.IsCancellationRequested)
                {
                    await Task.Delay(200, trickle.Token);
                    await client.Socket.SendAsync(" "u8.ToArray(), WebSocketMessageType.Text, false, trickle.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
            }
        }, ct);
        var end = await client.ReceiveAsync(ct);
        var elapsed = started.Elapsed;
        await trickle.CancelAsync();
        await sender;

        Assert.Multiple(() =>
        {
            Assert.That(end, Is.Null, "closed");
            Assert.That(client.Socket.CloseStatus, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
            Assert.That(client.Socket.CloseStatusDescription, Does.Contain("limits.message_timeout_seconds"));
            Assert.That(elapsed, Is.GreaterThan(TimeSpan.FromSeconds(0.9)).And.LessThan(TimeSpan.FromSeconds(4)));
        });
    }

    /// <summary>How the socket ended: "close N" for a close frame (not answered), "reset" for a broken connection.</summary>
    private static async Task<string> ReceiveEndAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                var r = await socket.ReceiveAsync(buffer, ct);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    return "close " + (int?)r.CloseStatus;
                }
            }
        }
        catch (WebSocketException)
        {
            return "reset";
        }
    }
}
