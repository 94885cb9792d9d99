using System.Diagnostics;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>protocol.md §6 upstream errors, retries and timeouts, with a fault-injecting upstream that records what it saw.</summary>
[Category("loopback")]
[TestFixture]
public sealed class UpstreamFaultTests
{
    private static object Ask(string seq, bool origin = true) => new { seq, data = new { query = "q", origin_stream = origin } };

    [Test, CancelAfter(20000)]
    public async Task Upstream401_IsCode2001_NotRetried_KeyNeverShown(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer((req, res) => res.SendErrorAsync(401, "Incorrect API key provided: sk-test-k*************0000"));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("a"), ct);
        var stream = await client.ReadStreamAsync("a", ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamAuth));
            Assert.That(stream.FinishReason, Is.EqualTo("error"));
            Assert.That(stream.Message, Does.Contain("401"));
            Assert.That(stream.Message, Does.Not.Contain("sk-test"));
            Assert.That(upstream.Requests, Has.Count.EqualTo(1));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task Upstream429Always_RetriedMaxRetriesTimes_ThenCode2002(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer((req, res) => res.SendErrorAsync(429, "slow down", new Dictionary<string, string> { ["Retry-After"] = "0" }));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { MaxRetries = 2 });
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("r"), ct);
        var stream = await client.ReadStreamAsync("r", ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamRateLimit));
        Assert.That(stream.Message, Does.Contain("slow down"));
        Assert.That(upstream.Requests, Has.Count.EqualTo(3), "max_retries = 2 means three attempts");
    }

    [Test, CancelAfter(20000)]
    public async Task RetryAfterHeader_IsHonoured(CancellationToken ct)
    {
        var attempts = 0;
        var stream429 = FakeOpenAiServer.Streams(["ok"]);
        await using var upstream = new FakeOpenAiServer((req, res) => Interlocked.Increment(ref attempts) == 1
            ? res.SendErrorAsync(429, "wait", new Dictionary<string, string> { ["Retry-After"] = "1" })
            : stream429(req, res));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { RetryBaseDelay = TimeSpan.FromMilliseconds(1) });
        using var client = await daemon.ConnectAsync(ct);

        var clock = Stopwatch.StartNew();
        await client.SendAsync(Ask("w"), ct);
        var stream = await client.ReadStreamAsync("w", ct);

        Assert.That(stream.Text, Is.EqualTo("ok"));
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(950)), "waited the Retry-After second, not the 1 ms backoff");
    }

    [Test, CancelAfter(20000)]
    public async Task Upstream500ThenOk_RetriedAndStreams(CancellationToken ct)
    {
        var attempts = 0;
        var ok = FakeOpenAiServer.Streams(["fine", "."]);
        await using var upstream = new FakeOpenAiServer((req, res) => Interlocked.Increment(ref attempts) == 1 ? res.SendErrorAsync(503, "overloaded") : ok(req, res));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("f"), ct);
        var stream = await client.ReadStreamAsync("f", ct);

        Assert.That(stream.Text, Is.EqualTo("fine."));
        Assert.That(stream.FinishReason, Is.EqualTo("stop"));
        Assert.That(upstream.Requests, Has.Count.EqualTo(2));
    }

    [Test, CancelAfter(20000)]
    public async Task Upstream400_IsCode2003WithUpstreamMessage_NotRetried(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer((req, res) => res.SendErrorAsync(400, "This model's maximum context length is 4097 tokens"));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("b"), ct);
        var stream = await client.ReadStreamAsync("b", ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamError));
        Assert.That(stream.Message, Does.Contain("maximum context length"));
        Assert.That(upstream.Requests, Has.Count.EqualTo(1));
    }

    [Test, CancelAfter(20000)]
    public async Task UpstreamRedirect_IsCode2003NamingTheTarget_NotFollowed(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer((req, res) => res.SendHeadAsync(301, "text/plain", new Dictionary<string, string>
        {
            ["Location"] = "https://api.example.com/v1/chat/completions",
            ["Content-Length"] = "0",
        }));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("m"), ct);
        var stream = await client.ReadStreamAsync("m", ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamError));
        Assert.That(stream.Message, Does.Contain("301").And.Contain("https://api.example.com/v1/chat/completions").And.Contain("base_url"));
        Assert.That(upstream.Requests, Has.Count.EqualTo(1));
        Assert.That(upstream.Requests[0].Method, Is.EqualTo("POST"));
    }

    [Test, CancelAfter(20000)]
    public async Task UpstreamUnreachable_RetriedThenError(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer((req, res) => Task.CompletedTask);
        var closedPort = DaemonFixture.FreePort();
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { BaseUrl = $"http://127.0.0.1:{closedPort}/v1" });
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("u"), ct);
        var stream = await client.ReadStreamAsync("u", ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamError));
        Assert.That(stream.Message, Does.Contain("could not reach the upstream"));
    }

    [Test, CancelAfter(20000)]
    public async Task NoFirstToken_IsCode2004AfterFirstTokenTimeout(CancellationToken ct)
    {
        FakeRequest? seen = null;
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            seen = req;
            await res.StartSseAsync();
            await res.HangAsync();
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { FirstTokenTimeout = TimeSpan.FromSeconds(1) });
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("t"), ct);
        var stream = await client.ReadStreamAsync("t", ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamTimeout));
        Assert.That(stream.Message, Does.Contain("no token"));
        Assert.That(await seen!.ClosedTask.WaitAsync(TimeSpan.FromSeconds(2), ct), Is.Not.EqualTo(default(DateTime)), "the hung request is closed");
    }

    [Test, CancelAfter(20000)]
    public async Task RoleOnlyChunkThenSilence_FirstTokenDeadlineStillApplies(CancellationToken ct)
    {
        // A role-only first chunk is not a token: the (longer) first-token deadline holds, not the idle one.
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendEventAsync("{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}");
            await res.HangAsync();
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { FirstTokenTimeout = TimeSpan.FromSeconds(3), UpstreamIdleTimeout = TimeSpan.FromMilliseconds(500) });
        using var client = await daemon.ConnectAsync(ct);

        var clock = Stopwatch.StartNew();
        await client.SendAsync(Ask("role"), ct);
        var stream = await client.ReadStreamAsync("role", ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamTimeout));
        Assert.That(stream.Message, Does.Contain("no token within 3 s"));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(2.5)));
    }

    [Test, CancelAfter(20000)]
    public async Task SteadyTokensLongerThanBothTimeouts_StreamCompletes(CancellationToken ct)
    {
        // Tokens 150 ms apart for ~1.8 s: longer than the first-token (1 s) and idle (0.5 s) timeouts, but no gap
        // reaches the idle one. Both clocks share one timer that is moved by each token, not re-armed per token.
        var words = Enumerable.Range(0, 12).Select(i => $"w{i} ").ToArray();
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            foreach (var word in words)
            {
                await Task.Delay(150);
                await res.SendChunkAsync(word, false);
            }

            await res.SendFinishAsync("stop", false);
            await res.SendEventAsync("[DONE]");
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { FirstTokenTimeout = TimeSpan.FromSeconds(1), UpstreamIdleTimeout = TimeSpan.FromMilliseconds(500) });
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("steady"), ct);
        var stream = await client.ReadStreamAsync("steady", ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.Ok), stream.Message);
            Assert.That(stream.Text, Is.EqualTo(string.Concat(words)));
        });
    }

    [Test, CancelAfter(20000)]
    public async Task SilentMidStream_ContentDeliveredThenCode2004(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("半句", false);
            await res.SendChunkAsync("话", false);
            await res.HangAsync();
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { UpstreamIdleTimeout = TimeSpan.FromSeconds(1) });
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("i", origin: false), ct);
        var stream = await client.ReadStreamAsync("i", ct);

        Assert.That(stream.Text, Is.EqualTo("半句话"), "the unfinished tail is flushed before the error");
        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamTimeout));
        Assert.That(stream.Message, Does.Contain("silent"));
    }

    [Test, CancelAfter(20000)]
    public async Task ResetMidStream_ContentDeliveredThenCode2005(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("one ", false);
            await res.SendChunkAsync("two", false);
            await Task.Delay(100);
            res.Reset();
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("x"), ct);
        var stream = await client.ReadStreamAsync("x", ct);

        Assert.That(stream.Text, Is.EqualTo("one two"));
        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
        Assert.That(upstream.Requests, Has.Count.EqualTo(1), "never retried once content was sent");
    }

    [TestCase("data: {\"choices\":[{\"delta\":{\"content\":\"bad\"}]\n\n", "malformed")]
    [TestCase("data: {\"error\":{\"message\":\"The server had an error\"}}\n\n", "The server had an error")]
    [TestCase("event: error\ndata: {\"message\":\"overloaded_error\"}\n\n", "overloaded_error")]
    [TestCase("", "ended before [DONE]")]
    [CancelAfter(20000)]
    public async Task BrokenStream_ContentDeliveredThenCode2005(string tail, string expected, CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("good", false);
            await res.WriteRawAsync(System.Text.Encoding.UTF8.GetBytes(tail));
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("m"), ct);
        var stream = await client.ReadStreamAsync("m", ct);

        Assert.That(stream.Text, Is.EqualTo("good"));
        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
        Assert.That(stream.Message, Does.Contain(expected));
    }

    [Test, CancelAfter(20000)]
    public async Task ErrorOnOneStream_OtherStreamsOnTheConnectionContinue(CancellationToken ct)
    {
        var good = FakeOpenAiServer.Streams(["a", "b", "c"], TimeSpan.FromMilliseconds(30));
        await using var upstream = new FakeOpenAiServer((req, res) =>
            req.Body.GetProperty("messages")[0].GetProperty("content").GetString() == "fail" ? res.SendErrorAsync(400, "nope") : good(req, res));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(Ask("ok1"), ct);
        await client.SendAsync(new { seq = "bad", data = new { query = "fail" } }, ct);
        await client.SendAsync(Ask("ok2"), ct);

        Assert.That((await client.ReadStreamAsync("bad", ct)).Code, Is.EqualTo(ErrorCodes.UpstreamError));
        Assert.That((await client.ReadStreamAsync("ok1", ct)).Text, Is.EqualTo("abc"));
        Assert.That((await client.ReadStreamAsync("ok2", ct)).Text, Is.EqualTo("abc"));
    }
}
