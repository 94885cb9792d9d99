using GptWsDaemon.Server.Engines;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>/healthz and /metrics (protocol.md §3) over real HTTP.</summary>
[NonParallelizable]
[Category("loopback")]
[TestFixtureSource(typeof(EngineTests), nameof(EngineTests.Engines))]
public sealed partial class MetricsTests(EngineKind engine) : EngineTests(engine)
{
    [Test, CancelAfter(20000)]
    public async Task SegmentHold_SentenceModeStream_ObservedPerPieceWithItsWait(CancellationToken ct)
    {
        // "First. " waits for the next delta (80 ms later) before it is known to end: its hold is at least that.
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["First.", " Second", " one."], TimeSpan.FromMilliseconds(80)));
        await using var daemon = await StartDaemonAsync(upstream);
        using var http = new HttpClient();
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "s", data = new { query = "q", origin_stream = false, segment = "sentence" } }, ct);
        var stream = await client.ReadStreamAsync("s", ct);
        var after = Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "metrics"), ct));

        Assert.Multiple(() =>
        {
            Assert.That(stream.ContentFrames.Count(), Is.EqualTo(2));
            Assert.That(after["gptws_segment_hold_seconds_count{mode=\"sentence\"}"], Is.EqualTo(2), "one observation per piece");
            Assert.That(after["gptws_segment_hold_seconds_sum{mode=\"sentence\"}"], Is.GreaterThan(0.07), "the first piece waited for the next delta");
            Assert.That(after.GetValueOrDefault("gptws_segment_hold_seconds_count{mode=\"tts\"}"), Is.Zero);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Metrics_AfterAStream_CountersMoveInPrometheusTextFormat(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["a", "b", "c", "d"]));
        await using var daemon = await StartDaemonAsync(upstream);
        using var http = new HttpClient();
        var before = Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "metrics"), ct));
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "m", data = new { query = "q" } }, ct);
        await client.ReadStreamAsync("m", ct);
        await client.SendAsync("nonsense", ct);
        await client.ReceiveAsync(ct);
        var response = await http.GetAsync(new Uri(daemon.HttpUri, "metrics"), ct);
        var after = Parse(await response.Content.ReadAsStringAsync(ct));

        Assert.Multiple(() =>
        {
            Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/plain"));
            Assert.That(before.GetValueOrDefault("gptws_requests_total{code=\"0\"}"), Is.Zero);
            Assert.That(after["gptws_requests_total{code=\"0\"}"], Is.EqualTo(1));
            Assert.That(after["gptws_requests_total{code=\"1001\"}"], Is.EqualTo(1));
            Assert.That(after["gptws_tokens_relayed_total"], Is.EqualTo(4));
            Assert.That(after["gptws_connections"], Is.EqualTo(1));
            Assert.That(after["gptws_streams"], Is.Zero);
            Assert.That(after["gptws_upstream_ttft_seconds_count"], Is.EqualTo(1));
            Assert.That(after["gptws_upstream_duration_seconds_count"], Is.EqualTo(1));
            Assert.That(after.ContainsKey("gptws_upstream_retries_total"), Is.True);
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Metrics_RuntimeFigures_FollowTheProcessGarbageCollector(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["a"]));
        await using var daemon = await StartDaemonAsync(upstream);
        using var http = new HttpClient();
        var before = Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "metrics"), ct));
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        var garbage = new byte[1024 * 1024];
        GC.KeepAlive(garbage);
        var after = Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "metrics"), ct));

        Assert.Multiple(() =>
        {
            // The daemon runs in this test's process: a forced gen2 collection counts in every generation.
            foreach (var generation in new[] { "0", "1", "2" })
            {
                var name = $"dotnet_collection_count_total{{generation=\"{generation}\"}}";
                Assert.That(after[name], Is.GreaterThanOrEqualTo(before[name] + 1), name);
            }

            Assert.That(after["dotnet_gc_allocated_bytes_total"], Is.GreaterThanOrEqualTo(before["dotnet_gc_allocated_bytes_total"] + garbage.Length));
            Assert.That(after["dotnet_gc_pause_seconds_total"], Is.GreaterThan(before["dotnet_gc_pause_seconds_total"]));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Healthz_ReportsUpstreamConnectionsAndStreams(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("x", false);
            await res.HangAsync();
        });
        await using var daemon = await StartDaemonAsync(upstream);
        using var http = new HttpClient();
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "h", data = new { query = "q" } }, ct);
        await client.ReceiveAsync(ct);

        var health = JsonDocument.Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "healthz"), ct)).RootElement;

        Assert.That(health.GetRawText(), Is.EqualTo("{\"status\":\"ok\",\"upstream\":\"providers\",\"connections\":1,\"streams\":1,\"providers\":[{\"name\":\"openai\",\"kind\":\"openai\",\"keys\":[{\"id\":\"…0000\",\"state\":\"ok\"}]}]}"));
    }

    [TestCase("GET", "/nope", HttpStatusCode.NotFound)]
    [TestCase("POST", "/healthz", HttpStatusCode.MethodNotAllowed)]
    [TestCase("DELETE", "/", HttpStatusCode.MethodNotAllowed)]
    [TestCase("GET", "/ws", HttpStatusCode.UpgradeRequired)]
    [TestCase("GET", "/", HttpStatusCode.OK)]
    [CancelAfter(20000)]
    public async Task Routes_AnswerWithTheRightStatus(string method, string path, HttpStatusCode expected, CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync();
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(daemon.HttpUri, path)) { Content = method == "GET" ? null : new StringContent("") };

        using var response = await http.SendAsync(request, ct);

        Assert.That(response.StatusCode, Is.EqualTo(expected));
    }

    /// <summary>Parses the exposition format strictly: every sample line is <c>name{labels} value</c>; HELP/TYPE comments precede them.</summary>
    private static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.That(line, Does.Match(@"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* "));
                continue;
            }

            var m = Sample().Match(line);
            Assert.That(m.Success, Is.True, $"not a Prometheus sample line: {line}");
            samples[m.Groups[1].Value] = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }

        return samples;
    }

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$")]
    private static partial Regex Sample();
}
