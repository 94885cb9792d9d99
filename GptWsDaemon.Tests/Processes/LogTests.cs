using System.Net.WebSockets;
using System.Text.RegularExpressions;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// protocol.md §7 on the real process: "one line per request end with seq, model, mode, consume_time, TTFT, tokens, result
/// code. Never the API key or access tokens" — checked at the most verbose level, in the log file and on the console.
/// </summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed partial class LogTests
{
    private const string ApiKey = "sk-SECRETSECRET123456";
    private const string AccessToken = "tok-ABCDEFGH12345";
    private const string WrongToken = "tok-WRONGWRONG999";

    [Test, CancelAfter(60000)]
    public async Task RequestEnd_AfterStreamsAtTrace_OneLinePerRequestAndNoSecretAnywhere(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            if (req.Body.GetProperty("messages")[0].GetProperty("content").GetString() == "fail")
            {
                // Providers echo the key they refused: the daemon must not pass it on to its log or its client.
                await res.SendErrorAsync(401, $"Incorrect API key provided: {ApiKey}. You can find your API key at https://platform.openai.com/account/api-keys.");
                return;
            }

            await FakeOpenAiServer.Streams(["日志", "测试", " ok", "."])(req, res);
        });
        await using var daemon = await DaemonProcess.StartAsync(
            ["--api-key", ApiKey, "--base-url", upstream.BaseUrl, "--access-token", AccessToken, "--log-level", "Trace"], ct);

        var wrong = new ClientWebSocket();
        Assert.CatchAsync<WebSocketException>(async () => await wrong.ConnectAsync(new Uri(daemon.WsUri + "?token=" + WrongToken), ct));
        wrong.Dispose();

        using var byQuery = await WsTestClient.ConnectAsync(new Uri(daemon.WsUri + "?token=" + AccessToken), ct);
        using var byHeader = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + AccessToken));
        await byQuery.SendAsync(new { seq = "logs-ok-1", data = new { messages = new[] { new { role = "user", content = "hello" } } } }, ct);
        await byHeader.SendAsync(new { seq = "logs-fail-1", data = new { messages = new[] { new { role = "user", content = "fail" } } } }, ct);
        var ok = await byQuery.ReadStreamAsync("logs-ok-1", ct);
        var failed = await byHeader.ReadStreamAsync("logs-fail-1", ct);

        // Leave properly, so the shutdown does not wait out the daemon's close-handshake timeout.
        await byQuery.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        await byHeader.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        await daemon.SignalAsync("TERM", ct);
        await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);
        var log = daemon.ReadLogFile();
        var everything = log + daemon.Stdout + daemon.Stderr;
        var okLines = RequestEndLines(log, "logs-ok-1");
        var failLines = RequestEndLines(log, "logs-fail-1");

        Assert.Multiple(() =>
        {
            Assert.That(ok.Text, Is.EqualTo("日志测试 ok."));
            Assert.That(failed.Code, Is.EqualTo(2001));
            Assert.That(failed.Message, Does.Not.Contain("SECRETSECRET"));
            Assert.That(upstream.Requests[0].Headers["Authorization"], Is.EqualTo("Bearer " + ApiKey), "the key was not even used");

            Assert.That(log, Is.Not.Empty, $"no log file at {daemon.LogFile}");
            Assert.That(log, Does.Contain(" DEBUG ").Or.Contain(" TRACE "), "--log-level Trace did not reach the log file");
            Assert.That(okLines, Has.Count.EqualTo(1), log);
            Assert.That(failLines, Has.Count.EqualTo(1), log);
            if (okLines.Count == 1)
            {
                Assert.That(RequestEndShape().IsMatch(okLines[0]), Is.True, okLines[0]);
                Assert.That(okLines[0], Does.Contain(" code=0 ").And.Contain(" finish=stop").And.Contain(" model=gpt-3.5-turbo ").And.Contain(" mode=origin ").And.Contain(" tokens=4 "));
            }

            if (failLines.Count == 1)
            {
                Assert.That(failLines[0], Does.Contain(" code=2001 ").And.Contain(" finish=error"));
            }

            // Distinctive tails, so that a partly masked secret counts as a leak too.
            Assert.That(everything, Does.Not.Contain("SECRETSECRET123456"), "API key in the log or on the console");
            Assert.That(everything, Does.Not.Contain("ABCDEFGH12345"), "access token in the log or on the console");
            Assert.That(everything, Does.Not.Contain("WRONGWRONG999"), "a refused token in the log or on the console");
        });
    }

    private static List<string> RequestEndLines(string log, string seq) =>
        [.. log.Split('\n').Where(l => l.Contains($"request end seq={seq} ", StringComparison.Ordinal))];

    [GeneratedRegex(@"request end seq=\S+ conn=\d+ model=\S+ mode=\S+ ttft=(\d+\.\d+|-) consume_time=\d+\.\d\d tokens=\d+ frames=\d+ code=\d+ finish=\w+")]
    private static partial Regex RequestEndShape();
}
