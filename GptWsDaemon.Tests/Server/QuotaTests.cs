using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Protocol;
using GptWsDaemon.Quotas;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// protocol.md §2.3 "Quotas" through real sockets: named tokens, each limit reached and refused with 1009 and a correct
/// retry_after, the upstream never called for a refused request, the cost caps, /usage, the metrics, and tokens
/// counted by the tokenizer when the provider sends no usage. A clock of the test's own holds the minute still.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class QuotaTests
{
    private const string Alice = "tok-alice-00000001";
    private const string Bob = "tok-bob-000000000002";
    private const string Admin = "tok-admin-0000000003";
    private static readonly DateTimeOffset Noon = new(2026, 12, 1, 12, 0, 20, TimeSpan.Zero); // 40 s left in the minute

    private static object Ask(string seq, string model = "gpt-4o") => new { seq, data = new { query = "q", model } };

    private static Task<DaemonFixture> StartAsync(FakeOpenAiServer upstream, QuotaSettings quota, Func<DaemonSettings, DaemonSettings>? more = null, TimeProvider? clock = null) =>
        DaemonFixture.StartAsync(
            upstream,
            s => (more ?? (x => x))(s with { AccessTokens = ["alice:" + Alice, "bob:" + Bob], AdminTokens = [Admin], Quota = quota }),
            (s, metrics) => new QuotaGate(s.Quota, new MemoryQuotaStore(), metrics, clock ?? new FixedClock(Noon)));

    [Test, CancelAfter(20000)]
    public async Task RequestsPerMinute_TheThirdRefused1009_RetryAfterTheMinutesEnd_UpstreamNotCalled_OtherClientsUntouched(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        var quota = new QuotaSettings { PerClient = new Dictionary<string, QuotaLimits> { ["alice"] = new() { RequestsPerMinute = 2 } } };
        await using var daemon = await StartAsync(upstream, quota);
        using var alice = await daemon.ConnectAsync(Alice, ct);
        using var bob = await daemon.ConnectAsync(Bob, ct);
        var results = new List<StreamResult>();
        for (var i = 0; i < 3; i++)
        {
            await alice.SendAsync(Ask("a" + i), ct);
            results.Add(await alice.ReadStreamAsync("a" + i, ct));
        }

        await bob.SendAsync(Ask("b"), ct);
        var bobs = await bob.ReadStreamAsync("b", ct);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", Bob);
        var metrics = await http.GetStringAsync(new Uri(daemon.HttpUri, "metrics"), ct);

        var refused = results[2];
        Assert.Multiple(() =>
        {
            Assert.That(results.Take(2).Select(r => r.Code), Has.All.Zero);
            Assert.That(refused.Code, Is.EqualTo(ErrorCodes.QuotaExceeded));
            Assert.That(refused.Message, Is.EqualTo("quota exceeded: requests_per_minute (2) of client alice; retry in 40 s"));
            Assert.That(refused.Final.GetProperty("data").GetProperty("retry_after").GetInt32(), Is.EqualTo(40));
            Assert.That(upstream.Requests, Has.Count.EqualTo(3), "two of alice's and bob's: the refused one never left");
            Assert.That(bobs.Code, Is.Zero, "another client's quota is its own");
            Assert.That(metrics, Does.Contain("gptws_quota_rejections_total{client=\"alice\",limit=\"requests_per_minute\"} 1"));
            Assert.That(metrics, Does.Contain("gptws_client_tokens_total{client=\"alice\",kind=\"prompt\"} 14"), "7 + 7 as the upstream reported");
            Assert.That(metrics, Does.Not.Contain(Alice).And.Not.Contain(Bob));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task ConcurrentStreams_SecondWhileTheFirstRuns_Refused_ThenFreeAgain(CancellationToken ct)
    {
        var gate = new TaskCompletionSource();
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("slow", false);
            await gate.Task.WaitAsync(res.Aborted);
            await res.SendFinishAsync("stop", false);
            await res.SendEventAsync("[DONE]");
        });
        await using var daemon = await StartAsync(upstream, new QuotaSettings { Defaults = new() { ConcurrentStreams = 1 } });
        using var alice = await daemon.ConnectAsync(Alice, ct);
        await alice.SendAsync(Ask("one"), ct);
        await upstream.WaitForRequestAsync(ct);
        await alice.SendAsync(Ask("two"), ct);
        var two = await alice.ReadStreamAsync("two", ct);
        gate.SetResult();
        var one = await alice.ReadStreamAsync("one", ct);
        await alice.SendAsync(Ask("three"), ct);
        var three = await alice.ReadStreamAsync("three", ct);

        Assert.Multiple(() =>
        {
            Assert.That((two.Code, two.Message), Is.EqualTo((ErrorCodes.QuotaExceeded, "quota exceeded: concurrent_streams (1) of client alice; retry in 1 s")));
            Assert.That(two.Final.GetProperty("data").GetProperty("retry_after").GetInt32(), Is.EqualTo(1));
            Assert.That((one.Code, three.Code), Is.EqualTo((0, 0)), "the slot comes back when the stream ends");
            Assert.That(upstream.Requests, Has.Count.EqualTo(2));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task TokensPerDay_ChargedFromTheUsage_RefusedOnceSpent_RetryAfterUtcMidnight(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"])); // usage 7 + 3 = 10
        await using var daemon = await StartAsync(upstream, new QuotaSettings { Defaults = new() { TokensPerDay = 20 } });
        using var alice = await daemon.ConnectAsync(Alice, ct);
        var codes = new List<StreamResult>();
        for (var i = 0; i < 3; i++)
        {
            await alice.SendAsync(Ask("d" + i), ct);
            codes.Add(await alice.ReadStreamAsync("d" + i, ct));
        }

        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", Admin);
        var usage = JsonDocument.Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "usage"), ct)).RootElement;
        var aliceUsage = usage.GetProperty("clients").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "alice");
        Assert.Multiple(() =>
        {
            Assert.That(codes.Select(c => c.Code), Is.EqualTo(new[] { 0, 0, ErrorCodes.QuotaExceeded }));
            Assert.That(codes[2].Message, Does.StartWith("quota exceeded: tokens_per_day (20) of client alice"));
            Assert.That(codes[2].Final.GetProperty("data").GetProperty("retry_after").GetInt32(), Is.EqualTo(12 * 3600 - 20), "seconds to the next UTC midnight");
            Assert.That(aliceUsage.GetProperty("tokens_today").GetInt32(), Is.EqualTo(20));
            Assert.That(aliceUsage.GetProperty("requests_this_minute").GetInt32(), Is.EqualTo(2));
            Assert.That(aliceUsage.GetProperty("limits").GetProperty("tokens_per_day").GetInt32(), Is.EqualTo(20));
            Assert.That(aliceUsage.GetProperty("remaining").GetProperty("tokens_today").GetInt32(), Is.Zero);
            Assert.That(usage.GetProperty("clients").EnumerateArray().Select(c => c.GetProperty("name").GetString()), Is.EqualTo(new[] { "alice", "bob" }));
            Assert.That(usage.GetRawText(), Does.Not.Contain(Alice));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Usage_WithoutTheAdminToken_401()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        await using var daemon = await StartAsync(upstream, QuotaSettings.Off);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", Alice);
        var response = await http.GetAsync(new Uri(daemon.HttpUri, "usage"), cts.Token);
        Assert.That((int)response.StatusCode, Is.EqualTo(401), "a client's own token does not show everyone's usage");
    }

    [TestCase("gpt-4o", false, "max_tokens", 50)]
    [TestCase("gpt-5.1", false, "max_completion_tokens", 50)]
    [TestCase("gpt-3.5-turbo-instruct", false, "max_tokens", 50)]
    [TestCase("gpt-4o", true, "max_tokens", 50)]
    [CancelAfter(20000)]
    public async Task OutputCap_SentOnEveryRequest_InTheParameterTheModelTakes(string model, bool clientAsksMore, string parameter, int expected, CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        var quota = new QuotaSettings { PerClient = new Dictionary<string, QuotaLimits> { ["alice"] = new() { MaxOutputTokens = 50 } } };
        await using var daemon = await StartAsync(upstream, quota, s => s with { MaxOutputTokens = 100 });
        using var alice = await daemon.ConnectAsync(Alice, ct);
        object data = clientAsksMore ? new { query = "q", model, openai_parameter = false, max_tokens = 80 } : new { query = "q", model };
        await alice.SendAsync(new { seq = "c", data }, ct);
        Assert.That((await alice.ReadStreamAsync("c", ct)).Code, Is.Zero);
        using var bob = await daemon.ConnectAsync(Bob, ct);
        await bob.SendAsync(new { seq = "c", data = new { query = "q", model } }, ct);
        Assert.That((await bob.ReadStreamAsync("c", ct)).Code, Is.Zero);

        Assert.Multiple(() =>
        {
            Assert.That(upstream.Requests[0].Body.GetProperty(parameter).GetInt32(), Is.EqualTo(expected), "the smaller of limits.max_output_tokens and alice's quota, and of what she asked");
            Assert.That(upstream.Requests[1].Body.GetProperty(parameter).GetInt32(), Is.EqualTo(100), "bob: limits.max_output_tokens alone, with openai_parameter true");
        });
    }

    [TestCase("""{"query":"q","model":"davinci-002","openai_parameter":false,"best_of":20,"max_tokens":4000}""", "best_of × max_tokens: 20 × 4000 is over limits.max_tokens (4000)")]
    [TestCase("""{"query":"q","model":"o1-pro"}""", "model: \"o1-pro\" is not allowed here (allowed: gpt-4o-mini, gpt-5*, deepseek-*)")]
    public async Task CostCaps_Refused1004_NoUpstreamCall(string data, string message)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        await using var daemon = await StartAsync(upstream, QuotaSettings.Off, s => s with { AllowedModels = ["gpt-4o-mini", "gpt-5*", "deepseek-*"] });
        using var alice = await daemon.ConnectAsync(Alice, cts.Token);
        await alice.SendAsync("{\"seq\":\"x\",\"data\":" + data + "}", cts.Token);
        await alice.SendAsync(Ask("ok", "gpt-5.1"), cts.Token);
        var refused = await alice.ReadStreamAsync("x", cts.Token);
        var allowed = await alice.ReadStreamAsync("ok", cts.Token);
        Assert.Multiple(() =>
        {
            Assert.That((refused.Code, refused.Message), Is.EqualTo((ErrorCodes.BadParameter, message)));
            Assert.That(allowed.Code, Is.Zero, "a model the allow-list matches");
            Assert.That(upstream.Requests, Has.Count.EqualTo(1));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task CancelledStream_UsageCountedByTheTokenizer_MarkedEstimated_Within2Percent(CancellationToken ct)
    {
        var words = "The West Lake in Hangzhou is famous for its scenery, 西湖的景色非常美丽, with pagodas, temples and gardens. ".Split(' ');
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            for (var i = 0; ; i++)
            {
                await res.SendChunkAsync(words[i % words.Length] + " ", false);
                await Task.Delay(5, res.Aborted);
            }
        });
        await using var daemon = await StartAsync(upstream, new QuotaSettings { Defaults = new() { TokensPerDay = 1_000_000 } });
        using var alice = await daemon.ConnectAsync(Alice, ct);
        await alice.SendAsync(Ask("e"), ct);
        var text = new System.Text.StringBuilder();
        JsonElement final;
        while (true)
        {
            var frame = (await alice.ReceiveAsync(ct))!.Value;
            var d = frame.GetProperty("data");
            if (d.GetProperty("finish_reason").ValueKind != JsonValueKind.Null)
            {
                final = frame;
                break;
            }

            text.Append(d.GetProperty("contents").GetString());
            if (text.Length > 2000 && text.Length < 2100)
            {
                await alice.SendAsync(new { seq = "e", action = "cancel" }, ct);
            }
        }

        var usage = final.GetProperty("data").GetProperty("usage");
        var expected = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(text.ToString());
        var counted = usage.GetProperty("completion_tokens").GetInt32();
        Assert.Multiple(() =>
        {
            Assert.That(final.GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo("cancelled"));
            Assert.That(usage.GetProperty("estimated").GetBoolean(), Is.True);
            Assert.That(counted, Is.InRange(expected * 0.98, expected * 1.02), $"tokenizer's count of the {text.Length} characters received: {expected}");
            Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.InRange(5, 12), "one short user message and its framing");
        });
    }

    [TestCase(false, ErrorCodes.QuotaExceeded)]
    [TestCase(true, 0)]
    [CancelAfter(20000)]
    public async Task NoTokens_ClientsAreAddresses_XForwardedForOnlyFromTrustedProxies(bool trusted, int secondCode, CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        await using var daemon = await DaemonFixture.StartAsync(
            upstream,
            s => s with { Quota = new QuotaSettings { Defaults = new() { RequestsPerMinute = 1 } }, TrustedProxies = trusted ? ["127.0.0.1"] : [] },
            (s, metrics) => new QuotaGate(s.Quota, new MemoryQuotaStore(), metrics, new FixedClock(Noon)));
        var codes = new List<int>();
        foreach (var forwarded in new[] { "203.0.113.7", "198.51.100.9" })
        {
            using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetRequestHeader("X-Forwarded-For", forwarded));
            await client.SendAsync(Ask("x"), ct);
            codes.Add((await client.ReadStreamAsync("x", ct)).Code);
        }

        Assert.That(codes, Is.EqualTo(new[] { 0, secondCode }), trusted
            ? "behind a trusted proxy each forwarded address is a client of its own"
            : "from an untrusted peer the header is the client's word: both are 127.0.0.1");
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
