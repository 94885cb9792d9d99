using System.Text.Json;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Tests.Server;

/// <summary>protocol.md §2 "Providers", §6 "Retries and failover": routing, key pools, benching and failover, over real sockets.</summary>
[Category("loopback")]
[TestFixture]
public sealed class ProviderRoutingTests
{
    private const string Text = "杭州的西湖 🌸 is lovely.";
    private static readonly string[] Deltas = ["杭州", "的西湖 ", "🌸", " is", " lovely."];

    private static object Ask(string seq, string model) => new { seq, data = new { query = "q", model } };

    private static ProviderSettings Provider(string name, string baseUrl, params string[] keys) =>
        new() { Name = name, BaseUrl = baseUrl, ApiKeys = keys };

    [Test, CancelAfter(30000)]
    public async Task Routes_ByModel_EachProviderItsUrlAuthAndModel(CancellationToken ct)
    {
        await using var openai = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        await using var deepseek = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        await using var azure = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        await using var azureV1 = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        var models = new Dictionary<string, string>(StringComparer.Ordinal) { ["gpt-4o"] = "prod-4o", ["gpt-4o-mini"] = "mini" };
        await using var daemon = await DaemonFixture.StartAsync(openai, s => s with
        {
            ExtraProviders =
            [
                Provider("deepseek", deepseek.BaseUrl, "sk-deepseek-key-0000000001"),
                Provider("azure", azure.Root, "azure-key-deployments-0001") with { Kind = ProviderKind.Azure, ApiVersion = "2024-10-21", Models = models },
                Provider("azurev1", azureV1.Root, "azure-key-v1-00000000002") with { Kind = ProviderKind.Azure, Models = models },
            ],
            Routes = [new("deepseek-*", ["deepseek"]), new("gpt-4o", ["azure"]), new("gpt-4o-mini", ["azurev1"]), new("*", ["openai"])],
        });
        using var client = await daemon.ConnectAsync(ct);

        var results = new Dictionary<string, StreamResult>();
        foreach (var model in new[] { "deepseek-chat", "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo" })
        {
            await client.SendAsync(Ask(model, model), ct);
            results[model] = await client.ReadStreamAsync(model, ct);
        }

        Assert.Multiple(() =>
        {
            foreach (var (model, provider) in new[] { ("deepseek-chat", "deepseek"), ("gpt-4o", "azure"), ("gpt-4o-mini", "azurev1"), ("gpt-3.5-turbo", "openai") })
            {
                Assert.That(results[model].Text, Is.EqualTo(Text), model);
                Assert.That(results[model].Final.GetProperty("data").GetProperty("provider").GetString(), Is.EqualTo(provider), model);
            }

            var ds = deepseek.Requests.Single();
            Assert.That((ds.Path, ds.Headers["Authorization"], ds.Body.GetProperty("model").GetString()), Is.EqualTo(("/v1/chat/completions", "Bearer sk-deepseek-key-0000000001", "deepseek-chat")));
            var az = azure.Requests.Single();
            Assert.That((az.Path, az.Headers["api-key"], az.Headers.ContainsKey("Authorization")), Is.EqualTo(("/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", "azure-key-deployments-0001", false)));
            var v1 = azureV1.Requests.Single();
            Assert.That((v1.Path, v1.Headers["api-key"], v1.Body.GetProperty("model").GetString()), Is.EqualTo(("/openai/v1/chat/completions", "azure-key-v1-00000000002", "mini")));
            Assert.That(openai.Requests.Single().Headers["Authorization"], Is.EqualTo("Bearer sk-test-key-000000000000"));
            Assert.That(results["deepseek-chat"].Final.GetProperty("data").GetProperty("key_id").GetString(), Is.EqualTo("…0001"));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task KeyPool_RequestsRotateOverTheKeys(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with
        {
            ApiKey = null,
            ExtraProviders = [Provider("pool", upstream.BaseUrl, "sk-pool-key-00000000001", "sk-pool-key-00000000002", "sk-pool-key-00000000003")],
        });
        using var client = await daemon.ConnectAsync(ct);
        var served = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            await client.SendAsync(Ask("r" + i, "gpt-4o"), ct);
            served.Add((await client.ReadStreamAsync("r" + i, ct)).Final.GetProperty("data").GetProperty("key_id").GetString()!);
        }

        Assert.Multiple(() =>
        {
            Assert.That(upstream.Requests.GroupBy(r => r.Headers["Authorization"]).Select(g => g.Count()), Is.EqualTo(new[] { 2, 2, 2 }));
            Assert.That(served.Order(), Is.EqualTo(new[] { "…0001", "…0001", "…0002", "…0002", "…0003", "…0003" }));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task Key401_BenchedOnce_NextKeyServesAtOnce_NoKeyAnywhere(CancellationToken ct)
    {
        const string Bad = "sk-revoked-key-00000000bad1";
        const string Good = "sk-working-key-0000000good";
        await using var upstream = new FakeOpenAiServer((req, res) => req.Headers["Authorization"] == "Bearer " + Bad
            ? res.SendErrorAsync(401, "Incorrect API key provided: " + Bad)
            : FakeOpenAiServer.Streams(Deltas)(req, res));
        using var log = new LogCollector();
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { ApiKey = null, ExtraProviders = [Provider("main", upstream.BaseUrl, Bad, Good)] });
        using var client = await daemon.ConnectAsync(ct);
        var streams = new List<StreamResult>();
        for (var i = 0; i < 4; i++)
        {
            await client.SendAsync(Ask("k" + i, "gpt-4o"), ct);
            streams.Add(await client.ReadStreamAsync("k" + i, ct));
        }

        using var http = new HttpClient();
        var health = await http.GetStringAsync(new Uri(daemon.HttpUri, "healthz"), ct);
        var metrics = await http.GetStringAsync(new Uri(daemon.HttpUri, "metrics"), ct);
        var keys = JsonDocument.Parse(health).RootElement.GetProperty("providers")[0].GetProperty("keys");
        Assert.Multiple(() =>
        {
            Assert.That(streams.Select(s => (s.Code, s.Text)), Has.All.EqualTo((0, Text)), "the client never notices the refused key");
            Assert.That(upstream.Requests.Count(r => r.Headers["Authorization"] == "Bearer " + Bad), Is.EqualTo(1), "benched after its 401: not tried again");
            Assert.That(keys[0].GetProperty("id").GetString(), Is.EqualTo("…bad1"));
            Assert.That(keys[0].GetProperty("state").GetString(), Is.EqualTo("refused"));
            Assert.That(DateTimeOffset.Parse(keys[0].GetProperty("until").GetString()!), Is.GreaterThan(DateTimeOffset.UtcNow.AddSeconds(590)));
            Assert.That(keys[1].GetProperty("state").GetString(), Is.EqualTo("ok"));
            Assert.That(metrics, Does.Contain("gptws_provider_keys_benched_total{provider=\"main\",reason=\"refused\"} 1"));
            Assert.That(log.Lines.Count(l => l.Contains("key …bad1 benched", StringComparison.Ordinal)), Is.EqualTo(1), "logged once, by its masked id");
            Assert.That(log.Lines, Has.None.Contain(Bad).And.None.Contain(Good));
            Assert.That(health + metrics + string.Concat(streams.SelectMany(s => s.Frames).Select(f => f.GetRawText())), Does.Not.Contain("sk-revoked").And.Not.Contain("sk-working"));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task Key429_BenchedForRetryAfter_OtherKeyServes(CancellationToken ct)
    {
        const string Limited = "sk-limited-key-0000000001";
        await using var upstream = new FakeOpenAiServer((req, res) => req.Headers["Authorization"] == "Bearer " + Limited
            ? res.SendErrorAsync(429, "Rate limit reached", new Dictionary<string, string> { ["Retry-After"] = "45" })
            : FakeOpenAiServer.Streams(Deltas)(req, res));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { ApiKey = null, ExtraProviders = [Provider("main", upstream.BaseUrl, Limited, "sk-other-key-000000000002")] });
        using var client = await daemon.ConnectAsync(ct);
        for (var i = 0; i < 4; i++)
        {
            await client.SendAsync(Ask("l" + i, "gpt-4o"), ct);
            Assert.That((await client.ReadStreamAsync("l" + i, ct)).Text, Is.EqualTo(Text));
        }

        using var http = new HttpClient();
        var key = JsonDocument.Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "healthz"), ct)).RootElement.GetProperty("providers")[0].GetProperty("keys")[0];
        var until = DateTimeOffset.Parse(key.GetProperty("until").GetString()!);
        Assert.Multiple(() =>
        {
            Assert.That(upstream.Requests.Count(r => r.Headers["Authorization"] == "Bearer " + Limited), Is.EqualTo(1));
            Assert.That(key.GetProperty("state").GetString(), Is.EqualTo("rate_limited"));
            Assert.That(until, Is.InRange(DateTimeOffset.UtcNow.AddSeconds(30), DateTimeOffset.UtcNow.AddSeconds(46)), "benched for its Retry-After");
        });
    }

    [Test, CancelAfter(30000)]
    public async Task EveryKeyRefused_Code2001_MessageSaysWhatToDo_NextRequestSendsNothing(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer((req, res) => res.SendErrorAsync(401, "invalid key"));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { ApiKey = null, ExtraProviders = [Provider("main", upstream.BaseUrl, "sk-first-key-00000000aaaa", "sk-second-key-0000000bbbb")] });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(Ask("a", "gpt-4o"), ct);
        var first = await client.ReadStreamAsync("a", ct);
        await client.SendAsync(Ask("b", "gpt-4o"), ct);
        var second = await client.ReadStreamAsync("b", ct);

        Assert.Multiple(() =>
        {
            Assert.That(first.Code, Is.EqualTo(ErrorCodes.UpstreamAuth));
            Assert.That(first.Message, Does.Contain("provider main: every key is benched: …aaaa refused until").And.Contain("…bbbb refused until").And.Contain("check or replace the keys"));
            Assert.That(second.Code, Is.EqualTo(ErrorCodes.UpstreamAuth));
            Assert.That(second.Message, Does.Contain("every key is benched"));
            Assert.That(upstream.Requests, Has.Count.EqualTo(2), "each key tried once; the second request calls no one");
            Assert.That(first.Message + second.Message, Does.Not.Contain("sk-first").And.Not.Contain("sk-second"));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task Failover_FirstProvider503_SecondServesExactText_NoRetryOfTheFirst(CancellationToken ct)
    {
        await using var down = new FakeOpenAiServer((req, res) => res.SendErrorAsync(503, "service unavailable"));
        await using var backup = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        using var log = new LogCollector();
        await using var daemon = await DaemonFixture.StartAsync(down, s => s with
        {
            ExtraProviders = [Provider("backup", backup.BaseUrl, "sk-backup-key-0000000001")],
            Routes = [new("gpt-*", ["openai", "backup"])],
        });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "f", data = new { query = "q", model = "gpt-4o", origin_stream = false } }, ct);
        var stream = await client.ReadStreamAsync("f", ct);
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(daemon.HttpUri, "metrics"), ct);

        Assert.Multiple(() =>
        {
            Assert.That((stream.Code, stream.Text), Is.EqualTo((0, Text)));
            Assert.That(stream.Final.GetProperty("data").GetProperty("provider").GetString(), Is.EqualTo("backup"));
            Assert.That(down.Requests, Has.Count.EqualTo(1), "a provider with a fallback is left at once, not retried");
            Assert.That(metrics, Does.Contain("gptws_provider_failovers_total{provider=\"openai\"} 1"));
            Assert.That(log.Lines.Any(l => l.Contains("seq=f provider openai failed before the first token", StringComparison.Ordinal) && l.Contains("failing over to backup", StringComparison.Ordinal)));
            Assert.That(log.Lines.Any(l => l.Contains("request end seq=f", StringComparison.Ordinal) && l.Contains("provider=backup key=…0001", StringComparison.Ordinal)));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task Failover_ConnectRefused_SilentProvider_AndAllKeysBenched_EachHandsOn(CancellationToken ct)
    {
        var closedPort = DaemonFixture.FreePort();
        await using var silent = new FakeOpenAiServer(async (req, res) => { await res.StartSseAsync(); await res.HangAsync(); });
        await using var refusing = new FakeOpenAiServer((req, res) => res.SendErrorAsync(401, "bad key"));
        await using var backup = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        await using var daemon = await DaemonFixture.StartAsync(backup, s => s with
        {
            FirstTokenTimeout = TimeSpan.FromSeconds(1),
            ExtraProviders =
            [
                Provider("gone", $"http://127.0.0.1:{closedPort}/v1", "sk-gone-key-000000000001"),
                Provider("silent", silent.BaseUrl, "sk-silent-key-0000000001"),
                Provider("refusing", refusing.BaseUrl, "sk-refusing-key-00000001"),
            ],
            Routes = [new("a", ["gone", "openai"]), new("b", ["silent", "openai"]), new("c", ["refusing", "openai"])],
        });
        using var client = await daemon.ConnectAsync(ct);
        var texts = new List<(string, string?, int)>();
        foreach (var model in new[] { "a", "b", "c" })
        {
            await client.SendAsync(Ask(model, model), ct);
            var s = await client.ReadStreamAsync(model, ct);
            texts.Add((s.Text, s.Final.GetProperty("data").GetProperty("provider").GetString(), s.Code));
        }

        Assert.Multiple(() =>
        {
            Assert.That(texts, Has.All.EqualTo((Text, "openai", 0)));
            Assert.That(silent.Requests, Has.Count.EqualTo(1));
            Assert.That(refusing.Requests, Has.Count.EqualTo(1));
            Assert.That(backup.Requests, Has.Count.EqualTo(3));
        });
    }

    [Test, CancelAfter(30000)]
    public async Task NoFailover_OnceContentReachedTheClient(CancellationToken ct)
    {
        await using var breaking = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("half an ", false);
            await res.SendChunkAsync("answer", false);
            await Task.Delay(100, res.Aborted);
            res.Reset();
        });
        await using var backup = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas));
        await using var daemon = await DaemonFixture.StartAsync(breaking, s => s with
        {
            ExtraProviders = [Provider("backup", backup.BaseUrl, "sk-backup-key-0000000001")],
            Routes = [new("*", ["openai", "backup"])],
        });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(Ask("n", "gpt-4o"), ct);
        var stream = await client.ReadStreamAsync("n", ct);

        Assert.Multiple(() =>
        {
            Assert.That((stream.Text, stream.Code), Is.EqualTo(("half an answer", ErrorCodes.UpstreamBroken)));
            Assert.That(stream.Final.GetProperty("data").GetProperty("provider").GetString(), Is.EqualTo("openai"), "the error says who served the half");
            Assert.That(backup.Requests, Is.Empty, "a second answer after half of the first would be two answers");
        });
    }

    [Test, CancelAfter(20000)]
    public async Task UnroutedModel_Code1004NamingTheRoutes_NoUpstreamCall(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { Routes = [new("gpt-*", ["openai"])] });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(Ask("u", "claude-3-haiku"), ct);
        var stream = await client.ReadStreamAsync("u", ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.BadParameter));
            Assert.That(stream.Message, Is.EqualTo("model: no provider serves \"claude-3-haiku\" (routes: gpt-*)"));
            Assert.That(upstream.Requests, Is.Empty);
        });
    }
}
