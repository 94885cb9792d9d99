using System.Net;
using System.Net.Sockets;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Server;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Support;

/// <summary>A real daemon in this process, on a free loopback port, talking to a fake upstream or the demo model.</summary>
public sealed class DaemonFixture : IAsyncDisposable
{
    private readonly ProviderStreams? _openAi;
    private GptWsDaemon.Streams.RedisStreamStore? _resumeStore;

    private DaemonFixture(DaemonSettings settings, IChatUpstream upstream, DaemonMetrics metrics, ProviderStreams? openAi, GptWsDaemon.Quotas.QuotaGate? quota = null, GptWsDaemon.Streams.RedisStreamStore? resumeStore = null)
    {
        Settings = settings;
        Metrics = metrics;
        _openAi = openAi;
        _resumeStore = resumeStore;
        Server = new DaemonServer(settings, upstream, metrics, quota, resumeStore is null ? null : new GptWsDaemon.Streams.StreamRegistry(settings.Resume, metrics, resumeStore));
    }

    /// <summary>As <see cref="StartAsync(FakeOpenAiServer, Func{DaemonSettings, DaemonSettings}?)"/>, with resumable logs in the Redis at <paramref name="redisUrl"/> (protocol.md §4.5).</summary>
    public static async Task<DaemonFixture> StartWithRedisAsync(FakeOpenAiServer upstream, string redisUrl, Func<DaemonSettings, DaemonSettings>? configure = null)
    {
        var settings = (configure ?? (s => s))(new DaemonSettings
        {
            Port = FreePort(),
            ApiKey = "sk-test-key-000000000000",
            BaseUrl = upstream.BaseUrl,
            RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        });
        var metrics = new DaemonMetrics();
        var openAi = new ProviderStreams(settings, new SecretRedactor([.. settings.Providers.SelectMany(p => p.ApiKeys)]), metrics);
        var store = await GptWsDaemon.Streams.RedisStreamStore.ConnectAsync(SettingsLoader.RedisAddress(redisUrl), settings.Resume, settings.MaxStreamDuration, metrics);
        return await StartedAsync(new DaemonFixture(settings, openAi, metrics, openAi, resumeStore: store));
    }

    public DaemonSettings Settings { get; }

    public DaemonServer Server { get; }

    public DaemonMetrics Metrics { get; }

    public Uri WsUri => new($"ws://127.0.0.1:{Settings.Port}/ws");

    public Uri HttpUri => new($"http://127.0.0.1:{Settings.Port}/");

    /// <summary>Starts a daemon against <paramref name="upstream"/>'s URL with fast retry and timeout settings.</summary>
    public static Task<DaemonFixture> StartAsync(FakeOpenAiServer upstream, Func<DaemonSettings, DaemonSettings>? configure = null) =>
        StartAsync(upstream.BaseUrl, configure);

    /// <summary>Starts a daemon against the upstream at <paramref name="baseUrl"/> with fast retry and timeout settings.</summary>
    public static Task<DaemonFixture> StartAsync(string baseUrl, Func<DaemonSettings, DaemonSettings>? configure = null) => StartAsync(baseUrl, configure, null);

    /// <summary>As <see cref="StartAsync(FakeOpenAiServer, Func{DaemonSettings, DaemonSettings}?)"/>, with a quota gate of the test's own (its clock, its store).</summary>
    public static Task<DaemonFixture> StartAsync(FakeOpenAiServer upstream, Func<DaemonSettings, DaemonSettings>? configure, Func<DaemonSettings, DaemonMetrics, GptWsDaemon.Quotas.QuotaGate>? quota) =>
        StartAsync(upstream.BaseUrl, configure, quota);

    private static Task<DaemonFixture> StartAsync(string baseUrl, Func<DaemonSettings, DaemonSettings>? configure, Func<DaemonSettings, DaemonMetrics, GptWsDaemon.Quotas.QuotaGate>? quota)
    {
        var settings = (configure ?? (s => s))(new DaemonSettings
        {
            Port = FreePort(),
            ApiKey = "sk-test-key-000000000000",
            BaseUrl = baseUrl,
            RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        });
        var metrics = new DaemonMetrics();
        var openAi = new ProviderStreams(settings, new SecretRedactor([.. settings.Providers.SelectMany(p => p.ApiKeys), .. settings.ResolveTokens().Select(t => t.Token)]), metrics);
        return StartedAsync(new DaemonFixture(settings, openAi, metrics, openAi, quota?.Invoke(settings, metrics)));
    }

    /// <summary>Starts a daemon serving the demo model.</summary>
    public static Task<DaemonFixture> StartDemoAsync(Func<DaemonSettings, DaemonSettings>? configure = null)
    {
        var settings = (configure ?? (s => s))(new DaemonSettings { Port = FreePort(), Demo = true, DemoTokenDelay = TimeSpan.FromMilliseconds(2) });
        return StartedAsync(new DaemonFixture(settings, new DemoUpstream(settings.DemoTokenDelay), new DaemonMetrics(), null));
    }

    private static async Task<DaemonFixture> StartedAsync(DaemonFixture fixture)
    {
        await fixture.Server.StartAsync();
        return fixture;
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public Task<WsTestClient> ConnectAsync(CancellationToken cancellationToken) => WsTestClient.ConnectAsync(WsUri, cancellationToken);

    /// <summary>Connects with an access token (Authorization: Bearer).</summary>
    public Task<WsTestClient> ConnectAsync(string token, CancellationToken cancellationToken) =>
        WsTestClient.ConnectAsync(WsUri, cancellationToken, o => o.SetRequestHeader("Authorization", "Bearer " + token));

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(TimeSpan.Zero);
        await Server.DisposeAsync();
        _openAi?.Dispose();
        if (_resumeStore is not null)
        {
            await _resumeStore.DisposeAsync();
            _resumeStore = null;
        }
    }
}
