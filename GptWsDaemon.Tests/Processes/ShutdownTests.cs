using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// protocol.md §7 on the real process: "SIGTERM/SIGINT → stop accepting, let streams finish up to
/// server.shutdown_grace_seconds, then cancel the rest with a final frame, close sockets with 1001, flush logs, exit 0."
/// </summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed class ShutdownTests
{
    private const string Question = "关机的时候会发生什么？";

    [Test, CancelAfter(60000)]
    public async Task SecondSignal_DuringTheGrace_ExitsAtOnce(CancellationToken ct)
    {
        // A 60 s grace and a 30 s stream: only the second signal can end the process quickly.
        await using var daemon = await DaemonProcess.StartAsync([], ct, ini: "[openai]\ndemo_token_delay_ms = 200\n[server]\nshutdown_grace_seconds = 60\n");
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        await client.SendAsync(DemoChat.Frame("long-1", Question), ct);
        await client.ReceiveAsync(ct);

        await daemon.SignalAsync("TERM", ct);
        await daemon.WaitForStdoutAsync("draining", TimeSpan.FromSeconds(10), ct);
        var clock = Stopwatch.StartNew();
        await daemon.SignalAsync("INT", ct);
        var exitCode = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "the second signal did not cut the 60 s grace short");
        Assert.That(exitCode, Is.Zero, daemon.Describe());
        Assert.That(daemon.Stdout, Does.Contain("second signal"));
    }

    [Test, CancelAfter(60000)]
    public async Task Sigterm_StreamOutlastsGrace_FinalCancelledThenClose1001AndExitZero(CancellationToken ct)
    {
        // About 150 tokens at 200 ms: the stream needs ~30 s, the grace is 1 s.
        await using var daemon = await DaemonProcess.StartAsync([], ct, ini: "[openai]\ndemo_token_delay_ms = 200\n[server]\nshutdown_grace_seconds = 1\n");
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        using var idle = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        await client.SendAsync(DemoChat.Frame("slow-1", Question), ct);
        var before = new List<string>();
        while (before.Count < 2)
        {
            before.Add(ContentsOf(await client.ReceiveAsync(ct) ?? throw new AssertionException("socket closed before the first frames")));
        }

        var clock = Stopwatch.StartNew();
        await daemon.SignalAsync("TERM", ct);
        var rest = await client.ReadStreamAsync("slow-1", ct);
        var finalAfter = clock.Elapsed;
        var close = await client.ReceiveAsync(ct);
        var closeStatus = client.Socket.CloseStatus;
        await AnswerCloseAsync(client, ct);
        var idleClose = await idle.ReceiveAsync(ct);
        var idleStatus = idle.Socket.CloseStatus;
        await AnswerCloseAsync(idle, ct);
        var exitCode = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20), ct);

        var text = string.Concat(before) + rest.Text;
        Assert.Multiple(() =>
        {
            Assert.That(rest.FinishReason, Is.EqualTo("cancelled"), daemon.Describe());
            Assert.That(rest.Code, Is.Zero);
            Assert.That(rest.Final.GetProperty("data").GetProperty("contents").GetString(), Is.Empty);
            // The grace period was honoured: tokens kept coming after SIGTERM, and the cancel came about 1 s later.
            Assert.That(rest.ContentFrames.Count(), Is.GreaterThan(0), "no content frames during the grace period");
            Assert.That(finalAfter, Is.GreaterThan(TimeSpan.FromMilliseconds(700)).And.LessThan(TimeSpan.FromSeconds(10)));
            Assert.That(DemoChat.Answer(Question), Does.StartWith(text), "the frames sent before the cancel are not a prefix of the answer");
            Assert.That(close, Is.Null, "expected a close frame after the final frame");
            Assert.That(closeStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
            Assert.That(idleClose, Is.Null, "the idle client got a frame instead of a close");
            Assert.That(idleStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable), "the idle client's close");
            Assert.That(exitCode, Is.Zero, daemon.Describe());
            Assert.That(daemon.Stdout, Does.Contain("request end seq=slow-1 ").And.Contain("finish=cancelled"));
            Assert.That(daemon.Stderr, Is.Empty);
        });
    }

    [TestCase("TERM"), TestCase("INT"), CancelAfter(60000)]
    public async Task Signal_StreamEndsWithinGrace_StopsNormallyRefusesNewcomersAndExitsZero(string signal, CancellationToken ct)
    {
        // About 150 tokens at 20 ms: ~3 s, well inside a 30 s grace.
        await using var daemon = await DaemonProcess.StartAsync([], ct, ini: "[openai]\ndemo_token_delay_ms = 20\n[server]\nshutdown_grace_seconds = 30\n");
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        await client.SendAsync(DemoChat.Frame("fast-1", Question), ct);
        var first = ContentsOf(await client.ReceiveAsync(ct) ?? throw new AssertionException("socket closed before the first frame"));

        var clock = Stopwatch.StartNew();
        await daemon.SignalAsync(signal, ct);
        var health = await WaitForDrainingAsync(daemon, ct);
        // "stop accepting": a new WebSocket during the drain is refused before it opens.
        var newcomer = new ClientWebSocket();
        newcomer.Options.CollectHttpResponseDetails = true;
        var refused = Assert.CatchAsync<WebSocketException>(async () => await newcomer.ConnectAsync(daemon.WsUri, ct));
        // ... and so is a new request on a connection that is already open (protocol.md §6: 1006, at capacity), once the
        // drain is under way (the first moments after the signal: see Signal_RequestRightAfterDrainingReported_Refused1006).
        await Task.Delay(500, ct);
        await client.SendAsync(DemoChat.Frame("too-late", Question), ct);
        var tooLate = await client.ReadStreamAsync("too-late", ct);

        var rest = await client.ReadStreamAsync("fast-1", ct);
        var streamEndedAfter = clock.Elapsed;
        var close = await client.ReceiveAsync(ct);
        var closeStatus = client.Socket.CloseStatus;
        await AnswerCloseAsync(client, ct);
        var exitCode = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20), ct);
        var exitAfter = clock.Elapsed;
        await TestContext.Out.WriteLineAsync($"after SIG{signal}: stream ended at {streamEndedAfter.TotalSeconds:0.00} s, process exited at {exitAfter.TotalSeconds:0.00} s");

        Assert.Multiple(() =>
        {
            Assert.That(rest.FinishReason, Is.EqualTo("stop"), daemon.Describe());
            Assert.That(first + rest.Text, Is.EqualTo(DemoChat.Answer(Question)));
            Assert.That(health, Does.Contain("\"status\":\"draining\""));
            Assert.That(refused, Is.Not.Null);
            Assert.That(newcomer.HttpStatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(tooLate.Code, Is.EqualTo(1006), "a new request during the drain");
            Assert.That(tooLate.Message, Does.Contain("shutting down"));
            Assert.That(tooLate.FinishReason, Is.EqualTo("error"));
            Assert.That(close, Is.Null, "expected a close frame after the final frame");
            Assert.That(closeStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
            Assert.That(exitCode, Is.Zero, daemon.Describe());
            // The last stream's end ends the wait: no sitting out the rest of the 30 s grace.
            Assert.That(exitAfter, Is.LessThan(TimeSpan.FromSeconds(20)));
            Assert.That(daemon.Stdout, Does.Contain("request end seq=fast-1 ").And.Contain("finish=stop"));
        });
        newcomer.Dispose();
    }

    [Test, CancelAfter(60000)]
    public async Task Signal_RequestRightAfterDrainingReported_Refused1006(CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync([], ct, ini: "[openai]\ndemo_token_delay_ms = 20\n[server]\nshutdown_grace_seconds = 30\n");
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        await client.SendAsync(DemoChat.Frame("keep", Question), ct);
        Assert.That(await client.ReceiveAsync(ct), Is.Not.Null);

        await daemon.SignalAsync("TERM", ct);
        await WaitForDrainingAsync(daemon, ct, TimeSpan.Zero);
        // /healthz says "draining" and new upgrades get 503: from here on no new stream may start either.
        var seqs = Enumerable.Range(0, 4).Select(i => $"late-{i}").ToList();
        foreach (var seq in seqs)
        {
            await client.SendAsync(DemoChat.Frame(seq, Question), ct);
        }

        var late = new List<StreamResult>();
        foreach (var seq in seqs)
        {
            late.Add(await client.ReadStreamAsync(seq, ct));
        }

        var keep = await client.ReadStreamAsync("keep", ct);
        await client.ReceiveAsync(ct);
        await AnswerCloseAsync(client, ct);
        var exitCode = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.Multiple(() =>
        {
            // Regression guard: the drain was once announced (/healthz "draining", upgrades 503) a moment before open
            // connections learnt of it, so requests in between were accepted; connections now read the server's token.
            Assert.That(late.Select(r => r.Code), Is.All.EqualTo(1006), "requests sent after /healthz reported draining were accepted");
            Assert.That(late.Select(r => r.Message), Has.All.Contains("shutting down"));
            Assert.That(keep.FinishReason, Is.EqualTo("stop"));
            Assert.That(exitCode, Is.Zero, daemon.Describe());
        });
    }

    private static string ContentsOf(JsonElement? frame)
    {
        Assert.That(frame, Is.Not.Null);
        var data = frame!.Value.GetProperty("data");
        Assert.That(data.GetProperty("finish_reason").ValueKind, Is.EqualTo(JsonValueKind.Null), $"expected a content frame, got {frame}");
        return data.GetProperty("contents").GetString()!;
    }

    /// <summary>Answers the daemon's close frame so its closing handshake completes at once.</summary>
    private static async Task AnswerCloseAsync(WsTestClient client, CancellationToken ct)
    {
        if (client.Socket.State == WebSocketState.CloseReceived)
        {
            await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        }
    }

    private static async Task<string> WaitForDrainingAsync(DaemonProcess daemon, CancellationToken ct, TimeSpan? poll = null)
    {
        using var http = new HttpClient();
        var healthz = new Uri(daemon.HttpUri, "/healthz");
        while (true)
        {
            // A draining daemon answers 503 with the same JSON body.
            using var response = await http.GetAsync(healthz, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (body.Contains("draining", StringComparison.Ordinal))
            {
                return body;
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(20), ct);
        }
    }
}
