using System.Net.WebSockets;
using System.Text.RegularExpressions;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// Clients cannot write the log: a seq, model or origin with line breaks stays inside its line (escaped as \uXXXX), and a
/// client repeating a refused request gets its first refusal lines logged, then one summary line per interval, with
/// the suppressed count in /metrics. Checked on the real process's log file.
/// </summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed partial class LogForgeryTests
{
    private const string Forged = "2099-01-01 00:00:00.0000Z ERROR GptWsDaemon admin login ok";

    [Test, CancelAfter(60000)]
    public async Task ClientValues_WithLineBreaks_EscapedNeverANewLine(CancellationToken ct)
    {
        // The demo answers slowly, so the first stream is still running when the duplicates arrive.
        await using var daemon = await DaemonProcess.StartAsync([], ct, ini: "[openai]\ndemo = true\ndemo_token_delay_ms = 200\n");
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        var seq = "s1\n" + Forged;
        var model = "gpt-4o\r\n" + Forged + "\u2028" + Forged;
        await client.SendAsync(new { seq, data = new { query = "hi", model } }, ct);
        await client.SendAsync(new { seq, data = new { query = "hi", model } }, ct); // 1005, logged at Info
        var refusal = await client.ReceiveAsync(ct);

        var origin = new ClientWebSocket();
        origin.Options.SetRequestHeader("Origin", "https://evil.example/\t" + new string('x', 5000));
        Assert.CatchAsync<WebSocketException>(async () => await origin.ConnectAsync(daemon.WsUri, ct));
        origin.Dispose();

        await client.SendAsync(new { seq, action = "cancel" }, ct);
        await client.ReadStreamAsync(seq, ct);
        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        await daemon.SignalAsync("TERM", ct);
        await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);
        var lines = daemon.ReadLogFile().Split('\n');

        Assert.Multiple(() =>
        {
            Assert.That(refusal?.GetProperty("code").GetInt32(), Is.EqualTo(1005));
            Assert.That(lines.Where(l => l.StartsWith("2099", StringComparison.Ordinal)), Is.Empty, "a forged line");
            Assert.That(lines.Where(l => l.Contains(Forged, StringComparison.Ordinal) && !l.Contains("\\u000a", StringComparison.Ordinal) && !l.Contains("\\u000d", StringComparison.Ordinal)), Is.Empty, "the forged text only ever after an escaped break");
            Assert.That(lines.Any(l => l.Contains("request refused seq=s1\\u000a2099", StringComparison.Ordinal)), Is.True, "the refusal line shows the seq escaped");
            Assert.That(lines.Any(l => l.Contains("\\u2028", StringComparison.Ordinal)), Is.True, "a Unicode line separator is escaped too");
            Assert.That(lines.Any(l => l.Contains("origin https://evil.example/\\u0009", StringComparison.Ordinal) && l.Contains("chars)", StringComparison.Ordinal) && l.Length < 600), Is.True, "the origin escaped and cut");
        });
    }

    [Test, CancelAfter(60000)]
    public async Task RefusalFlood_OneConnection_FirstLinesThenSummaryAndMetric(CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync([], ct, ini: "[openai]\ndemo = true\ndemo_token_delay_ms = 200\n");
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        await client.SendAsync(new { seq = "busy", data = new { query = "hi" } }, ct);
        const int Flood = 300;
        for (var i = 0; i < Flood; i++)
        {
            await client.SendAsync(new { seq = "busy", data = new { query = "hi" } }, ct);
        }

        var refused = 0;
        while (refused < Flood)
        {
            var frame = await client.ReceiveAsync(ct);
            if (frame?.GetProperty("code").GetInt32() == 1005)
            {
                refused++;
            }
        }

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(daemon.HttpUri, "/metrics"), ct);
        await client.SendAsync(new { seq = "busy", action = "cancel" }, ct);
        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        await daemon.SignalAsync("TERM", ct);
        await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);
        var log = daemon.ReadLogFile();
        var refusalLines = log.Split('\n').Count(l => l.Contains("request refused seq=busy", StringComparison.Ordinal));
        var suppressed = SuppressedMetric().Match(metrics);

        Assert.Multiple(() =>
        {
            Assert.That(refusalLines, Is.EqualTo(10), "the first ten refusals are logged");
            Assert.That(log, Does.Contain("more refusal lines not logged (rate limit)"), "then a summary");
            Assert.That(suppressed.Success, Is.True, metrics);
            Assert.That(suppressed.Success ? double.Parse(suppressed.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0, Is.EqualTo(Flood - 10));
        });
    }

    [GeneratedRegex(@"^gptws_log_lines_suppressed_total (\S+)$", RegexOptions.Multiline)]
    private static partial Regex SuppressedMetric();
}
