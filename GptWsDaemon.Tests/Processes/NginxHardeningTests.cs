using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// Issue 20, item 6: nginx in front, hardened and proven. Real nginx from the shipped deploy/nginx.conf (a few limits
/// rewritten to test-sized values) in front of real demo daemons, attacked and used over loopback sockets: slow and
/// oversized request heads are cut without touching the daemons, one address cannot hold more than its share of
/// connections, and a token sent as <c>?token=</c> is written to neither log.
/// </summary>
[NonParallelizable]
[Category("nginx")]
[TestFixture]
public sealed class NginxHardeningTests
{
    private const string Secret = "secret-abc";
    private const int Sloths = 20;
    private const int TestConnLimit = 3;
    private static readonly TimeSpan HeaderTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CloseMargin = TimeSpan.FromSeconds(2.5);

    [Test, CancelAfter(90000)]
    public async Task ClientHeaderTimeout_TwentySlowlorisSockets_ClosedAfterTheTimeoutWhileAStreamCompletes(CancellationToken ct)
    {
        // ~120 frames at 40 ms: the stream runs for ~5 s, through the sloths' whole life (~2 s).
        await using var stack = await NginxStack.StartAsync("[openai]\ndemo_token_delay_ms = 40\n", ct,
            directives: new Dictionary<string, string> { ["client_header_timeout"] = "2s" });
        const string Question = "有人在慢慢地发请求头时，流还会继续吗？";
        using var client = await WsTestClient.ConnectAsync(stack.Nginx.WsUri, ct);
        await client.SendAsync(DemoChat.Frame("during", Question), ct);
        var firstFrame = await client.ReceiveAsync(ct) ?? throw new AssertionException("the socket closed before the stream started");
        var firstPiece = firstFrame.GetProperty("data").GetProperty("contents").GetString();
        var stream = client.ReadStreamAsync("during", ct);

        var sloths = Enumerable.Range(0, Sloths).Select(_ => SlowlorisAsync(stack.Nginx.Port, HeaderTimeout + CloseMargin, ct)).ToList();
        // While they hang on, a newcomer is served at once.
        await Task.Delay(500, ct);
        var newcomerClock = Stopwatch.StartNew();
        using (var newcomer = await WsTestClient.ConnectAsync(stack.Nginx.WsUri, ct))
        {
            await newcomer.SendAsync(new { action = "ping" }, ct);
            Assert.That((await newcomer.ReceiveAsync(ct))?.GetProperty("msg").GetString(), Is.EqualTo("pong"), "a newcomer among the sloths");
        }

        var newcomerTook = newcomerClock.Elapsed;
        var closed = await Task.WhenAll(sloths);
        var streamStillRunning = !stream.IsCompleted;
        var result = await stream;

        var times = closed.Where(c => c.After is not null).Select(c => c.After!.Value.TotalMilliseconds).ToList();
        await TestContext.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{times.Count}/{Sloths} slowloris sockets closed by nginx {times.DefaultIfEmpty().Min():0}–{times.DefaultIfEmpty().Max():0} ms after connecting "
            + $"(client_header_timeout {HeaderTimeout.TotalSeconds:0} s; {closed[0].How}, after {closed[0].BytesSent} bytes); newcomer's ping {newcomerTook.TotalMilliseconds:0} ms; "
            + $"stream {result.Frames.Count} frames, finish {result.FinishReason}"));
        Assert.Multiple(() =>
        {
            Assert.That(closed.Where(c => c.After is null).Select(c => c.How), Is.Empty, "slowloris sockets nginx left open\n" + stack.Nginx.Describe());
            Assert.That(times, Has.All.GreaterThan((HeaderTimeout - TimeSpan.FromMilliseconds(300)).TotalMilliseconds), "closed before the timeout: by something else?");
            Assert.That(times, Has.All.LessThan((HeaderTimeout + CloseMargin).TotalMilliseconds), "closed too late");
            Assert.That(streamStillRunning, Is.True, "the stream should have outlived the sloths (else the test proves nothing about 'meanwhile')");
            Assert.That(result.FinishReason, Is.EqualTo("stop"));
            Assert.That(firstPiece + result.Text, Is.EqualTo(DemoChat.Answer(Question)), "the stream's answer");
        });
    }

    [TestCase("GET /", "414", TestName = "LargeClientHeaderBuffers_EndlessRequestLine_414CutEarlyDaemonsUntouched")]
    [TestCase("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ", "400", TestName = "LargeClientHeaderBuffers_EndlessHeaderLine_400CutEarlyDaemonsUntouched")]
    [CancelAfter(90000)]
    public async Task LargeClientHeaderBuffers_EndlessHead_RefusedCutEarlyDaemonsUntouched(string head, string status, CancellationToken ct)
    {
        const int Total = 16 * 1024 * 1024;
        await using var stack = await NginxStack.StartAsync("[openai]\ndemo_token_delay_ms = 2\n", ct);
        // Warm both daemons (JIT, pools) so that their memory before and after compares like with like.
        await StreamThroughAsync(stack, "warm-1", ct);
        await StreamThroughAsync(stack, "warm-2", ct);
        var daemonsBefore = RssKiB(stack.First.Pid) + RssKiB(stack.Second.Pid);
        var nginxBefore = stack.Nginx.WorkerPids().Sum(RssKiB);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { SendBufferSize = 64 * 1024 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, stack.Nginx.Port), ct);
        var clock = Stopwatch.StartNew();
        var sent = await socket.SendAsync(Encoding.ASCII.GetBytes(head), SocketFlags.None, ct);
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'a');
        string? cut = null;
        try
        {
            while (sent < Total)
            {
                sent += await socket.SendAsync(chunk, SocketFlags.None, ct);
            }
        }
        catch (SocketException e)
        {
            cut = e.SocketErrorCode.ToString();
        }

        var cutAfter = clock.Elapsed;
        var answer = await ReadAnswerAsync(socket, ct);
        var daemonsAfter = RssKiB(stack.First.Pid) + RssKiB(stack.Second.Pid);
        var nginxAfter = stack.Nginx.WorkerPids().Sum(RssKiB);
        await TestContext.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"endless head: cut ({cut}) after {sent / 1024} KiB of {Total / 1024} KiB, {cutAfter.TotalMilliseconds:0} ms; answer \"{FirstLine(answer)}\"; "
            + $"daemons' RSS {daemonsBefore / 1024.0:0.0} → {daemonsAfter / 1024.0:0.0} MiB, nginx workers' {nginxBefore / 1024.0:0.0} → {nginxAfter / 1024.0:0.0} MiB"));

        Assert.Multiple(() =>
        {
            Assert.That(cut, Is.Not.Null, $"nginx read all {Total / 1024 / 1024} MiB instead of cutting the socket");
            Assert.That(sent, Is.LessThan(Total / 4), "bytes accepted before the cut");
            Assert.That(cutAfter, Is.LessThan(TimeSpan.FromSeconds(2)), "time until the cut");
            Assert.That(answer, Does.StartWith("HTTP/1.1 " + status), "nginx's answer");
            Assert.That(daemonsAfter - daemonsBefore, Is.LessThan(4 * 1024), "daemons' RSS growth, KiB");
            Assert.That(nginxAfter - nginxBefore, Is.LessThan(4 * 1024), "nginx workers' RSS growth, KiB");
            Assert.That(stack.First.HasExited || stack.Second.HasExited, Is.False, "a daemon died");
        });
        await StreamThroughAsync(stack, "after", ct);
    }

    [Test, CancelAfter(90000)]
    public async Task Logs_HandshakesWithTokenInQuery_SecretInNeitherLog(CancellationToken ct)
    {
        await using var stack = await NginxStack.StartAsync(string.Empty, ct, ["--access-token", Secret],
            new Dictionary<string, string> { ["limit_conn"] = "gptws_per_address 1" });
        await HandshakesWithSecretAsync(stack.Nginx, ct);

        var access = NginxProxy.ReadLog(stack.Nginx.AccessLogPath);
        var errors = NginxProxy.ReadLog(stack.Nginx.ErrorLogPath);
        await TestContext.Out.WriteLineAsync("access.log:\n" + access + "error.log:\n" + errors);
        Assert.Multiple(() =>
        {
            Assert.That(access, Does.Contain("\"GET /ws HTTP/1.1\" 101 "), "the accepted handshake is logged, without its query");
            Assert.That(access, Does.Contain("\"GET /ws HTTP/1.1\" 401 "), "the refused handshake is logged");
            Assert.That(access, Does.Contain("\"GET /ws HTTP/1.1\" 429 "), "the handshake over the connection limit is logged");
            Assert.That(access, Does.Contain("\"GET / HTTP/1.1\" 200 "), "the test page is logged");
            Assert.That(access, Does.Not.Contain(Secret), "access.log");
            Assert.That(errors, Does.Not.Contain(Secret), "error.log");
        });
    }

    [Test, CancelAfter(90000)]
    public async Task Logs_ErrorLogLoweredToError_WritesTheTokenOfARefusedHandshake(CancellationToken ct)
    {
        // Why the shipped error_log level is crit: one level lower, a refused handshake's request line lands on disk.
        await using var stack = await NginxStack.StartAsync(string.Empty, ct, ["--access-token", Secret],
            new Dictionary<string, string> { ["limit_conn"] = "gptws_per_address 1" }, errorLogLevel: "error");
        await HandshakesWithSecretAsync(stack.Nginx, ct);

        var errors = NginxProxy.ReadLog(stack.Nginx.ErrorLogPath);
        await TestContext.Out.WriteLineAsync("error.log at level error:\n" + errors);
        Assert.That(errors, Does.Contain("request: \"GET /ws?token=" + Secret), "nginx's error log at level error");
        Assert.That(NginxProxy.ReadLog(stack.Nginx.AccessLogPath), Does.Not.Contain(Secret), "access.log");
    }

    [Test, CancelAfter(90000)]
    public async Task LimitConn_MoreWebSocketsThanThePerAddressLimit_ExtraRefused429FirstOnesStream(CancellationToken ct)
    {
        await using var stack = await NginxStack.StartAsync("[openai]\ndemo_token_delay_ms = 20\n", ct,
            directives: new Dictionary<string, string> { ["limit_conn"] = $"gptws_per_address {TestConnLimit}" });
        var held = new List<WsTestClient>();
        try
        {
            for (var i = 0; i < TestConnLimit; i++)
            {
                held.Add(await WsTestClient.ConnectAsync(stack.Nginx.WsUri, ct));
            }

            var questions = held.Select((_, i) => string.Create(CultureInfo.InvariantCulture, $"第 {i} 个连接的问题")).ToList();
            for (var i = 0; i < held.Count; i++)
            {
                await held[i].SendAsync(DemoChat.Frame("held", questions[i]), ct);
            }

            // While those stream, two more from the same address.
            var extra = new[] { await RefusedStatusAsync(stack.Nginx.WsUri, ct), await RefusedStatusAsync(stack.Nginx.WsUri, ct) };
            var results = await Task.WhenAll(held.Select(c => c.ReadStreamAsync("held", ct)));

            // The limit is on connections held: one goes, a new one gets in.
            held[0].Dispose();
            held.RemoveAt(0);
            var again = await ConnectWhenAdmittedAsync(stack.Nginx.WsUri, TimeSpan.FromSeconds(5), ct);
            held.Add(again.Client);
            await TestContext.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"limit {TestConnLimit}: extra handshakes answered {string.Join(", ", extra)}; held streams {string.Join(", ", results.Select(r => r.FinishReason))}; "
                + $"after one left, a new one admitted in {again.After.TotalMilliseconds:0} ms"));
            Assert.Multiple(() =>
            {
                Assert.That(extra, Has.All.EqualTo(429), "handshakes over the per-address limit\n" + stack.Nginx.Describe());
                for (var i = 0; i < results.Length; i++)
                {
                    Assert.That(results[i].FinishReason, Is.EqualTo("stop"), $"held stream {i}");
                    Assert.That(results[i].Text, Is.EqualTo(DemoChat.Answer(questions[i])), $"held stream {i}");
                }
            });
        }
        finally
        {
            foreach (var c in held)
            {
                c.Dispose();
            }
        }
    }

    [Test, CancelAfter(60000)]
    public async Task ProxySetHeader_PublicHostName_UpstreamSeesHost127AndXForwardedHost(CancellationToken ct)
    {
        // Stand-ins for the daemons, to see the head nginx sends upstream.
        await using var first = new HeadRecordingServer();
        await using var second = new HeadRecordingServer();
        int[] backends = [first.Port, second.Port];
        await using var nginx = await NginxProxy.StartAsync(Path.Combine(RepoRoot.Path, "deploy", "nginx.conf"), backends, DaemonFixture.FreePort(), ct);
        var before = first.Heads.Count + second.Heads.Count;

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(nginx.HttpUri, "/healthz"));
        request.Headers.Host = "chat.example.com:8443";
        using var response = await http.SendAsync(request, ct);
        var heads = first.Heads.Concat(second.Heads).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(heads, Has.Count.EqualTo(before + 1), "requests upstream");
            Assert.That(heads[^1], Does.Contain("\r\nHost: 127.0.0.1\r\n"), heads[^1]);
            Assert.That(heads[^1], Does.Contain("\r\nX-Forwarded-Host: chat.example.com:8443\r\n"), heads[^1]);
        });
    }

    /// <summary>
    /// With a per-address limit of 1 and tokens required: an accepted handshake with <c>?token=</c> (held open), one over
    /// the limit with it, one with a wrong token beginning with it, and the test page with it in the query and the
    /// Referer; returns once nginx logged all four.
    /// </summary>
    private static async Task HandshakesWithSecretAsync(NginxProxy nginx, CancellationToken ct)
    {
        var withToken = new Uri(nginx.WsUri + "?token=" + Secret);
        using (var accepted = await WsTestClient.ConnectAsync(withToken, ct))
        {
            await accepted.SendAsync(new { action = "ping" }, ct);
            Assert.That((await accepted.ReceiveAsync(ct))?.GetProperty("msg").GetString(), Is.EqualTo("pong"), "the accepted handshake");
            Assert.That(await RefusedStatusAsync(withToken, ct), Is.EqualTo(429), "a second WebSocket over the limit of 1\n" + nginx.Describe());
            await accepted.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        }

        var wrong = await ConnectWhenAdmittedOrRefusedAsync(new Uri(nginx.WsUri + "?token=" + Secret + "-wrong"), ct);
        Assert.That(wrong, Is.EqualTo(401), "a wrong token");

        using var http = new HttpClient();
        using var page = new HttpRequestMessage(HttpMethod.Get, new Uri(nginx.HttpUri, "/?token=" + Secret));
        page.Headers.Referrer = new Uri(nginx.HttpUri, "/?token=" + Secret);
        using var response = await http.SendAsync(page, ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the test page");

        // nginx logs a request when it ends (a WebSocket when it closes).
        string[] expected = ["\"GET /ws HTTP/1.1\" 101 ", "\"GET /ws HTTP/1.1\" 429 ", "\"GET /ws HTTP/1.1\" 401 ", "\"GET / HTTP/1.1\" 200 "];
        var clock = Stopwatch.StartNew();
        while (!expected.All(NginxProxy.ReadLog(nginx.AccessLogPath).Contains))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                Assert.Fail("nginx did not log the four requests within 10 s\n" + nginx.Describe());
            }

            await Task.Delay(50, ct);
        }
    }

    /// <summary>A WebSocket handshake that must fail; returns the HTTP status nginx or the daemon answered.</summary>
    private static async Task<int> RefusedStatusAsync(Uri uri, CancellationToken ct)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(uri, ct);
        }
        catch (WebSocketException)
        {
            return (int)socket.HttpStatusCode;
        }

        Assert.Fail($"the handshake to {uri} was accepted");
        return 0;
    }

    /// <summary>Retries a handshake refused with 429 (nginx has not yet seen a closed socket go) and returns the first other outcome: 101 or the refusal's status.</summary>
    private static async Task<int> ConnectWhenAdmittedOrRefusedAsync(Uri uri, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var socket = new ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            try
            {
                await socket.ConnectAsync(uri, ct);
                return (int)HttpStatusCode.SwitchingProtocols;
            }
            catch (WebSocketException) when (socket.HttpStatusCode != (HttpStatusCode)429 || clock.Elapsed > TimeSpan.FromSeconds(5))
            {
                return (int)socket.HttpStatusCode;
            }
            catch (WebSocketException)
            {
                await Task.Delay(20, ct);
            }
        }
    }

    /// <summary>Connects, retrying while nginx still counts a connection that just went (429); fails after <paramref name="timeout"/>.</summary>
    private static async Task<(WsTestClient Client, TimeSpan After)> ConnectWhenAdmittedAsync(Uri uri, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return (await WsTestClient.ConnectAsync(uri, ct), clock.Elapsed);
            }
            catch (WebSocketException) when (clock.Elapsed < timeout)
            {
                await Task.Delay(20, ct);
            }
        }
    }

    /// <summary>One demo stream through nginx on a fresh WebSocket; fails unless the answer is exact.</summary>
    private static async Task StreamThroughAsync(NginxStack stack, string seq, CancellationToken ct)
    {
        var question = "经过 nginx 的问题 " + seq;
        using var client = await WsTestClient.ConnectAsync(stack.Nginx.WsUri, ct);
        await client.SendAsync(DemoChat.Frame(seq, question), ct);
        var result = await client.ReadStreamAsync(seq, ct);
        Assert.That((result.FinishReason, result.Text), Is.EqualTo(("stop", DemoChat.Answer(question))), $"stream {seq} through nginx\n{stack.Describe()}");
    }

    /// <summary>
    /// A slowloris client: sends a request head one byte every 200 ms and never finishes it. Returns when nginx closes
    /// the socket (After: time since connecting) or, with After null, when it is still open after <paramref name="giveUp"/>.
    /// </summary>
    private static async Task<(TimeSpan? After, string How, int BytesSent)> SlowlorisAsync(int port, TimeSpan giveUp, CancellationToken ct)
    {
        var head = Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-Slow: " + new string('a', 4096));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
        var clock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var closed = WaitForCloseAsync(socket, clock, stop.Token);
        var sent = 0;
        while (!closed.IsCompleted && clock.Elapsed < giveUp && sent < head.Length)
        {
            try
            {
                sent += await socket.SendAsync(head.AsMemory(sent, 1), SocketFlags.None, ct);
            }
            catch (SocketException)
            {
                // Reset by nginx: the receive side reports it.
                break;
            }

            try
            {
                await closed.WaitAsync(TimeSpan.FromMilliseconds(200), ct);
            }
            catch (TimeoutException)
            {
                // Still open: next byte.
            }
        }

        if (!closed.IsCompleted)
        {
            try
            {
                await closed.WaitAsync(giveUp - clock.Elapsed > TimeSpan.Zero ? giveUp - clock.Elapsed : TimeSpan.Zero, ct);
            }
            catch (TimeoutException)
            {
                await stop.CancelAsync();
                try
                {
                    await closed;
                }
                catch (OperationCanceledException)
                {
                }

                return (null, $"still open after {giveUp.TotalSeconds:0.0} s, {sent} bytes sent", sent);
            }
        }

        var (after, how) = await closed;
        return (after, how, sent);
    }

    /// <summary>Waits until the peer closes (FIN or RST) or sends something; returns when, and how.</summary>
    private static async Task<(TimeSpan After, string How)> WaitForCloseAsync(Socket socket, Stopwatch clock, CancellationToken ct)
    {
        var buffer = new byte[1024];
        try
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            return (clock.Elapsed, n == 0 ? "FIN" : "answered " + FirstLine(Encoding.ASCII.GetString(buffer, 0, n)));
        }
        catch (SocketException e)
        {
            return (clock.Elapsed, e.SocketErrorCode == SocketError.ConnectionReset ? "RST" : e.SocketErrorCode.ToString());
        }
    }

    /// <summary>Whatever nginx sent before closing (an error page), read for up to 5 s.</summary>
    private static async Task<string> ReadAnswerAsync(Socket socket, CancellationToken ct)
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
        window.CancelAfter(TimeSpan.FromSeconds(5));
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (answer.Length < 64 * 1024)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, window.Token);
                if (n == 0)
                {
                    break;
                }

                answer.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            // Reset after the answer.
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Neither answer nor close in 5 s: the assertions say so.
        }

        return Encoding.ASCII.GetString(answer.ToArray());
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOf('\r', StringComparison.Ordinal);
        return end < 0 ? text : text[..end];
    }

    /// <summary>A process's resident set size in KiB (VmRSS in /proc/PID/status).</summary>
    private static long RssKiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Replace("kB", string.Empty, StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
    }
}
