using GptWsDaemon.Server.Engines;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>protocol.md §4, §6, §7 at the connection: cancel, disconnect, limits, bad frames, keep-alive, slow readers, shutdown.</summary>
[NonParallelizable]
[Category("loopback")]
[TestFixtureSource(typeof(EngineTests), nameof(EngineTests.Engines))]
public sealed class ConnectionTests(EngineKind engine) : EngineTests(engine)
{
    private static readonly TimeSpan AbortBudget = TimeSpan.FromMilliseconds(100);

    private static FakeOpenAiServer EndlessUpstream(TimeSpan delay) => new(async (req, res) =>
    {
        await res.StartSseAsync();
        for (var i = 0; ; i++)
        {
            await res.SendChunkAsync($"t{i} ", false);
            await Task.Delay(delay, res.Aborted);
        }
    });

    [Test, CancelAfter(20000)]
    public async Task CancelAction_EndsStreamCancelled_AndAbortsUpstreamAtOnce(CancellationToken ct)
    {
        await using var upstream = EndlessUpstream(TimeSpan.FromMilliseconds(10));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "c1", data = new { query = "one", origin_stream = false, segment = "sentence" } }, ct);
        await client.SendAsync(new { seq = "c2", data = new { query = "two" } }, ct);
        var first = await client.ReceiveAsync(ct);
        await Task.Delay(200, ct);
        var cancelledAt = DateTime.UtcNow;
        await client.SendAsync(new { seq = "c1", action = "cancel" }, ct);
        var stream = await client.ReadStreamAsync("c1", ct);
        var target = upstream.Requests.Single(r => r.Body.GetProperty("messages")[0].GetProperty("content").GetString() == "one");
        var closedAt = await target.ClosedTask.WaitAsync(TimeSpan.FromSeconds(5), ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.FinishReason, Is.EqualTo("cancelled"));
            Assert.That(stream.Code, Is.Zero);
            Assert.That(stream.Text, Does.StartWith("t0 t1 "), "the unfinished sentence tail is flushed, never lost");
            Assert.That(closedAt - cancelledAt, Is.LessThan(AbortBudget + TimeSpan.FromMilliseconds(50)), "upstream TCP closed right after cancel");
            Assert.That(upstream.Requests.Count(r => r.ClosedTask.IsCompleted), Is.EqualTo(1), "the other stream goes on");
        });
        Assert.That(first, Is.Not.Null);
    }

    [Test, CancelAfter(20000)]
    public async Task ClientDisconnects_EveryUpstreamRequestAbortedWithin100ms(CancellationToken ct)
    {
        await using var upstream = EndlessUpstream(TimeSpan.FromMilliseconds(20));
        await using var daemon = await StartDaemonAsync(upstream);
        var client = await daemon.ConnectAsync(ct);
        for (var i = 0; i < 4; i++)
        {
            await client.SendAsync(new { seq = $"d{i}", data = new { query = "q" } }, ct);
        }

        while (upstream.Requests.Count < 4)
        {
            await client.ReceiveAsync(ct);
        }

        await Task.Delay(100, ct);
        var leftAt = DateTime.UtcNow;
        client.Socket.Abort();
        client.Dispose();
        var closes = await Task.WhenAll(upstream.Requests.Select(r => r.ClosedTask.WaitAsync(TimeSpan.FromSeconds(5), ct)));

        Assert.That(closes.Max() - leftAt, Is.LessThan(AbortBudget), "no tokens paid for nobody");
        await WaitUntilAsync(() => daemon.Server.Streams == 0 && daemon.Server.Connections == 0, ct);
    }

    [Test, CancelAfter(20000)]
    public async Task DuplicateSeq_Is1005_AndTheFirstStreamContinues(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["x", "y", "z"], TimeSpan.FromMilliseconds(50)));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "dup", data = new { query = "q" } }, ct);
        await client.SendAsync(new { seq = "dup", data = new { query = "q" } }, ct);
        // The refusal and the first stream's frames share the seq and may come in either order: read to the stream's stop.
        var frames = new List<System.Text.Json.JsonElement>();
        while (frames.Count == 0 || frames[^1].GetProperty("data").GetProperty("finish_reason").GetString() != "stop")
        {
            frames.Add((await client.ReceiveAsync(ct))!.Value);
        }

        var errors = frames.Where(f => f.GetProperty("code").GetInt32() != 0).ToList();
        var text = string.Concat(frames.Where(f => f.GetProperty("data").GetProperty("finish_reason").ValueKind == System.Text.Json.JsonValueKind.Null)
            .Select(f => f.GetProperty("data").GetProperty("contents").GetString()));

        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0].GetProperty("code").GetInt32(), Is.EqualTo(ErrorCodes.DuplicateSeq));
        Assert.That(errors[0].GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo("error"));
        Assert.That(text, Is.EqualTo("xyz"));
    }

    [Test, CancelAfter(30000)]
    public async Task SeqReusedRightAfterItsFinalFrame_IsAcceptedEveryTime(CancellationToken ct)
    {
        // The seq and the slot are free by the time the client reads the final frame.
        await using var daemon = await StartDemoDaemonAsync(s => s with { DemoTokenDelay = TimeSpan.Zero, StreamsPerConnection = 1 });
        using var client = await daemon.ConnectAsync(ct);

        for (var i = 0; i < 30; i++)
        {
            await client.SendAsync(new { seq = "again", data = new { query = "q", openai_parameter = false, max_tokens = 3 } }, ct);
            var stream = await client.ReadStreamAsync("again", ct);
            Assert.That(stream.Code, Is.Zero, $"round {i}: {stream.Message}");
            Assert.That(stream.FinishReason, Is.EqualTo("length"));
        }
    }

    [Test, CancelAfter(20000)]
    public async Task CancelAfterTheFinalFrame_GetsNoSecondEnd(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { DemoTokenDelay = TimeSpan.Zero });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "done", data = new { query = "q", openai_parameter = false, max_tokens = 2 } }, ct);
        await client.ReadStreamAsync("done", ct);

        await client.SendAsync(new { seq = "done", action = "cancel" }, ct);
        await client.SendAsync(new { seq = "marker", action = "ping" }, ct);

        Assert.That((await client.ReceiveAsync(ct))!.Value.GetProperty("msg").GetString(), Is.EqualTo("pong"), "nothing came for the late cancel");
    }

    [Test, CancelAfter(20000)]
    public async Task StreamsPerConnectionAndMaxStreams_Refused1006(CancellationToken ct)
    {
        await using var upstream = EndlessUpstream(TimeSpan.FromMilliseconds(50));
        await using var daemon = await StartDaemonAsync(upstream, s => s with { StreamsPerConnection = 2, MaxStreams = 3 });
        using var a = await daemon.ConnectAsync(ct);
        using var b = await daemon.ConnectAsync(ct);

        await a.SendAsync(new { seq = "1", data = new { query = "q" } }, ct);
        await a.SendAsync(new { seq = "2", data = new { query = "q" } }, ct);
        await a.SendAsync(new { seq = "3", data = new { query = "q" } }, ct);
        var perConnection = await FirstErrorAsync(a, ct);
        await b.SendAsync(new { seq = "4", data = new { query = "q" } }, ct);
        await b.SendAsync(new { seq = "5", data = new { query = "q" } }, ct);
        var global = await FirstErrorAsync(b, ct);

        Assert.Multiple(() =>
        {
            Assert.That(perConnection.GetProperty("code").GetInt32(), Is.EqualTo(ErrorCodes.AtCapacity));
            Assert.That(perConnection.GetProperty("seq").GetString(), Is.EqualTo("3"));
            Assert.That(perConnection.GetProperty("msg").GetString(), Does.Contain("streams_per_connection"));
            Assert.That(global.GetProperty("code").GetInt32(), Is.EqualTo(ErrorCodes.AtCapacity));
            Assert.That(global.GetProperty("seq").GetString(), Is.EqualTo("5"));
            Assert.That(global.GetProperty("msg").GetString(), Does.Contain("max_streams"));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task MaxConnections_ExtraUpgradeGets503(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { MaxConnections = 2 });
        using var a = await daemon.ConnectAsync(ct);
        using var b = await daemon.ConnectAsync(ct);
        using var c = new ClientWebSocket();
        c.Options.CollectHttpResponseDetails = true;

        Assert.ThrowsAsync<WebSocketException>(() => c.ConnectAsync(daemon.WsUri, ct));
        Assert.That(c.HttpStatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        await a.SendAsync(new { action = "ping" }, ct);
        Assert.That((await a.ReceiveAsync(ct))!.Value.GetProperty("msg").GetString(), Is.EqualTo("pong"));
    }

    [Test, CancelAfter(20000)]
    public async Task BadFrames_EachGetsAnErrorFrame_ConnectionKeepsWorking(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { MaxMessageBytes = 4096 });
        using var client = await daemon.ConnectAsync(ct);
        var socket = client.Socket;

        await socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, ct);
        Assert.That(await CodeAsync(client, ct), Is.EqualTo(ErrorCodes.BadFrame), "binary");
        await client.SendAsync(new string('x', 10000), ct);
        Assert.That(await CodeAsync(client, ct), Is.EqualTo(ErrorCodes.FrameTooLarge), "too large");
        await client.SendAsync("[1,2]", ct);
        Assert.That(await CodeAsync(client, ct), Is.EqualTo(ErrorCodes.BadFrame), "array");
        await client.SendAsync(new string('[', 5000) + new string(']', 5000), ct);
        Assert.That(await CodeAsync(client, ct), Is.EqualTo(ErrorCodes.FrameTooLarge), "deep and large");
        await client.SendAsync(new string('[', 1000) + new string(']', 1000), ct);
        Assert.That(await CodeAsync(client, ct), Is.EqualTo(ErrorCodes.BadFrame), "deep");
        await client.SendAsync("{\"seq\":\"n\",\"data\":{\"query\":\"q\",\"temperature\":1e400}}", ct);
        Assert.That(await CodeAsync(client, ct), Is.EqualTo(ErrorCodes.BadParameter), "huge number");
        await client.SendAsync("", ct);
        Assert.That(await CodeAsync(client, ct), Is.EqualTo(ErrorCodes.BadFrame), "empty");

        // A text message in three fragments is one request.
        var parts = new[] { "{\"seq\":\"frag\",", "\"data\":{\"query\":", "\"碎片\"}}" };
        for (var i = 0; i < parts.Length; i++)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(parts[i]), WebSocketMessageType.Text, i == parts.Length - 1, ct);
        }

        var stream = await client.ReadStreamAsync("frag", ct);
        Assert.That(stream.FinishReason, Is.EqualTo("stop"));
        Assert.That(stream.Text, Does.Contain("碎片"));
    }

    [Test, CancelAfter(20000)]
    public async Task InvalidUtf8TextFrame_FailsThatConnectionWith1007_DaemonAndOthersUnharmed(CancellationToken ct)
    {
        // RFC 6455 §8.1: invalid UTF-8 in a text frame MUST fail the connection; the runtime closes it with 1007.
        await using var daemon = await StartDemoDaemonAsync();
        using var bystander = await daemon.ConnectAsync(ct);
        using var client = await daemon.ConnectAsync(ct);

        await client.Socket.SendAsync(new byte[] { (byte)'{', 0xff, 0xfe, (byte)'}' }, WebSocketMessageType.Text, true, ct);

        Assert.That(await client.ReceiveAsync(ct), Is.Null);
        Assert.That(client.Socket.CloseStatus, Is.EqualTo(WebSocketCloseStatus.InvalidPayloadData));
        await bystander.SendAsync(new { seq = "ok", data = new { query = "q" } }, ct);
        Assert.That((await bystander.ReadStreamAsync("ok", ct)).FinishReason, Is.EqualTo("stop"));
    }

    [Test, CancelAfter(20000)]
    public async Task IdleSocket_GetsKeepAliveControlFramesEveryPingInterval(CancellationToken ct)
    {
        // A raw TCP client, so that control frames are visible: proxies cut silent connections, the daemon must not be silent.
        await using var daemon = await StartDemoDaemonAsync(s => s with { PingInterval = TimeSpan.FromMilliseconds(500) });
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, daemon.Settings.Port, ct);
        var stream = tcp.GetStream();
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{daemon.Settings.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"), ct);

        var received = new List<byte>();
        var buffer = new byte[256];
        using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
        window.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, window.Token);
                received.AddRange(buffer.AsSpan(0, n).ToArray());
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }

        var text = Encoding.ASCII.GetString([.. received]);
        var head = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.That(text, Does.StartWith("HTTP/1.1 101"));
        var frames = received.Skip(head + 4).ToList();
        var controlFrames = 0;
        for (var i = 0; i + 1 < frames.Count; i += 2 + (frames[i + 1] & 0x7F))
        {
            if ((frames[i] & 0x0F) is 0x9 or 0xA)
            {
                controlFrames++;
            }
        }

        Assert.That(controlFrames, Is.GreaterThanOrEqualTo(2), "a keep-alive frame every 500 ms over 2 s");
    }

    [Test, CancelAfter(20000)]
    public async Task PingAction_GetsPong(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync("{\"action\":\"ping\"}", ct);

        Assert.That((await client.ReceiveAsync(ct))!.Value.GetRawText(), Is.EqualTo("{\"code\":0,\"msg\":\"pong\"}"));
    }

    [Test, CancelAfter(20000)]
    public async Task IdleConnection_ClosedAfterIdleTimeout(CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { ConnectionIdleTimeout = TimeSpan.FromSeconds(1) });
        using var client = await daemon.ConnectAsync(ct);

        var frame = await client.ReceiveAsync(ct);

        Assert.That(frame, Is.Null);
        Assert.That(client.Socket.CloseStatus, Is.EqualTo(WebSocketCloseStatus.NormalClosure));
        Assert.That(client.Socket.CloseStatusDescription, Is.EqualTo("idle timeout"));
    }

    [Test, CancelAfter(30000)]
    public async Task SlowReader_IsDroppedAndItsUpstreamAborted_MemoryStaysBounded(CancellationToken ct)
    {
        // A fast upstream and a client that never reads: the bounded queue fills, the client is dropped.
        var filler = new string('字', 200);
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            for (var i = 0; i < 200_000; i++)
            {
                await res.SendChunkAsync(filler, false);
            }
        });
        await using var daemon = await StartDaemonAsync(upstream, s => s with { SendQueueFrames = 64 });
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetBuffer(1024, 1024));
        var before = GC.GetTotalMemory(forceFullCollection: true);

        await client.SendAsync(new { seq = "slow", data = new { query = "q" } }, ct);
        await upstream.WaitForRequestAsync(ct);
        await upstream.Requests[0].ClosedTask.WaitAsync(TimeSpan.FromSeconds(20), ct);
        await WaitUntilAsync(() => daemon.Server.Connections == 0 && daemon.Server.Streams == 0, ct);
        var after = GC.GetTotalMemory(forceFullCollection: true);

        Assert.That(after - before, Is.LessThan(32L * 1024 * 1024), "memory does not grow with the unread stream");
    }

    [Test, CancelAfter(20000)]
    public async Task ServerStop_CancelsStreamsWithFinalFrame_AndClosesWith1001(CancellationToken ct)
    {
        await using var upstream = EndlessUpstream(TimeSpan.FromMilliseconds(20));
        await using var daemon = await StartDaemonAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "s", data = new { query = "q" } }, ct);
        await client.ReceiveAsync(ct);

        var stop = daemon.Server.StopAsync(TimeSpan.FromMilliseconds(300));
        var stream = await client.ReadStreamAsync("s", ct);
        var close = await client.ReceiveAsync(ct);
        await stop.WaitAsync(TimeSpan.FromSeconds(3), ct);


        Assert.That(stream.FinishReason, Is.EqualTo("cancelled"));
        Assert.That(close, Is.Null);
        Assert.That(client.Socket.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
        Assert.That(upstream.Requests[0].ClosedTask.IsCompleted, Is.True);
    }

    private static async Task<int> CodeAsync(WsTestClient client, CancellationToken ct)
    {
        var frame = (await client.ReceiveAsync(ct))!.Value;
        Assert.That(frame.GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo("error"));
        Assert.That(frame.GetProperty("msg").GetString(), Is.Not.Empty);
        return frame.GetProperty("code").GetInt32();
    }

    private static async Task<System.Text.Json.JsonElement> FirstErrorAsync(WsTestClient client, CancellationToken ct)
    {
        while (true)
        {
            var frame = (await client.ReceiveAsync(ct))!.Value;
            if (frame.GetProperty("code").GetInt32() != 0)
            {
                return frame;
            }
        }
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct)
    {
        while (!condition())
        {
            await Task.Delay(20, ct);
        }
    }
}
