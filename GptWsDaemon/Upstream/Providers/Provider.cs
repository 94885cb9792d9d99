using System.Net;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Upstream.Dialects;

namespace GptWsDaemon.Upstream.Providers;

/// <summary>
/// One configured provider at run time: its dialect, its key pool and its own connection pool. Requests go to the
/// handler through an <see cref="HttpMessageInvoker"/>, not an <see cref="HttpClient"/>: HttpClient adds nothing we use
/// (its timeout would be off, responses are never buffered) but costs every request a linked token source, an async
/// state machine and a copy of its default headers.
/// </summary>
public sealed class Provider : IDisposable
{
    /// <summary>Creates the provider.</summary>
    public Provider(ProviderSettings settings, DaemonSettings daemon, TimeProvider time, ProviderCounters? counters)
    {
        Settings = settings;
        Counters = counters;
        Action<KeyPool.BenchReason>? benched = counters is null ? null : reason => (reason == KeyPool.BenchReason.Refused ? counters.Refused : counters.RateLimited).Inc();
        Dialect = settings.Api == ProviderApi.Responses ? new ResponsesDialect(settings, daemon.ModelRules) : settings.Kind switch
        {
            ProviderKind.Azure => new AzureDialect(settings, daemon.ModelRules),
            ProviderKind.Anthropic => new AnthropicDialect(settings, daemon.MaxTokens),
            _ => new OpenAiDialect(settings.BaseUrl, daemon.ModelRules),
        };
        Keys = new KeyPool(settings.Name, ApiKey.Mask(settings.ApiKeys), time, benched);
        ServedBy = [.. Keys.Keys.Select(k => new ServedBy(settings.Name, k.Id))];
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = daemon.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = int.MaxValue,
            EnableMultipleHttp2Connections = true,
            AutomaticDecompression = DecompressionMethods.None,
            // An API never redirects a POST on purpose: a redirect is a base_url to fix (http:// to https://, say), and
            // following one would turn the POST into a GET. Off also takes a handler out of every request's path.
            AllowAutoRedirect = false,
            // A response abandoned mid-body is not drained for reuse: only what is already buffered (the end of a body
            // after [DONE]) is taken; otherwise the connection closes at once, with a reset (UpstreamSockets).
            ResponseDrainTimeout = TimeSpan.Zero,
            ConnectCallback = UpstreamSockets.ConnectAsync,
            UseCookies = false,
            UseProxy = false,
        };

        // No overall timeout (HttpClient's 100 s default would kill long streams, protocol.md §9 "Deadlines"); ours apply.
        Http = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>The name.</summary>
    public string Name => Settings.Name;

    /// <summary>As configured.</summary>
    public ProviderSettings Settings { get; }

    /// <summary>The wire format.</summary>
    public IDialect Dialect { get; }

    /// <summary>The keys.</summary>
    public KeyPool Keys { get; }

    /// <summary>Its /metrics series (null in unit tests).</summary>
    public ProviderCounters? Counters { get; }

    /// <summary>What a stream served with key i reports.</summary>
    public IReadOnlyList<ServedBy> ServedBy { get; }

    /// <summary>The connection pool.</summary>
    public HttpMessageInvoker Http { get; }

    /// <inheritdoc/>
    public void Dispose() => Http.Dispose();
}
