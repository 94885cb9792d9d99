using GptWsDaemon.Server.Engines;
using GptWsDaemon.Text;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Config;

/// <summary>Every setting of the daemon after flag &gt; environment &gt; ini &gt; default resolution (protocol.md §2).</summary>
public sealed record DaemonSettings
{
    /// <summary>The HTTP engine in front (server.engine).</summary>
    public EngineKind Engine { get; init; } = EngineKind.HttpListener;

    /// <summary>Kestrel: a socket must send a whole request head within this long (limits.handshake_timeout_seconds).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes all unfinished incoming messages may hold together (limits.pending_message_bytes).</summary>
    public long PendingMessageBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>A message must be complete this long after its first fragment (limits.message_timeout_seconds).</summary>
    public TimeSpan MessageTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Address to bind.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port to listen on.</summary>
    public int Port { get; init; } = 8808;

    /// <summary>Client access tokens; empty means the daemon is open.</summary>
    public IReadOnlyList<string> AccessTokens { get; init; } = [];

    /// <summary>server.access_tokens_file: tokens as <c>name token</c> lines, re-read on SIGHUP; null: <see cref="AccessTokens"/>.</summary>
    public string? AccessTokensFile { get; init; }

    /// <summary>Tokens that may read /usage (server.admin_tokens).</summary>
    public IReadOnlyList<string> AdminTokens { get; init; } = [];

    /// <summary>Proxies whose X-Forwarded-For names a client (server.trusted_proxies): addresses or networks.</summary>
    public IReadOnlyList<string> TrustedProxies { get; init; } = [];

    /// <summary>The quotas (<c>[quota]</c>, <c>[quota.NAME]</c>).</summary>
    public Quotas.QuotaSettings Quota { get; init; } = Quotas.QuotaSettings.Off;

    /// <summary>An output cap sent on every upstream request (limits.max_output_tokens); null: none.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Models a request may name (after aliases), as patterns (<c>[models] allow</c>); empty: any.</summary>
    public IReadOnlyList<string> AllowedModels { get; init; } = [];

    /// <summary>StackExchange.Redis configuration from <c>[redis] url</c>; null: counters in memory.</summary>
    public string? RedisUrl { get; init; }

    /// <summary><c>[resume]</c>: how resumable streams are held and kept (protocol.md §4.5).</summary>
    public Streams.ResumeSettings Resume { get; init; } = new();

    /// <summary>The access tokens with their client names: from the file when set (read now), else the list.</summary>
    public IReadOnlyList<NamedToken> ResolveTokens() =>
        AccessTokensFile is { } file ? NamedToken.FromFile(file) : NamedToken.FromList(AccessTokens, "access token");

    /// <summary>Allowed browser origins; empty means any.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>How long running streams may finish after SIGTERM.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>NLog level name.</summary>
    public string LogLevel { get; init; } = "Info";

    /// <summary>Provider API key, or null in demo mode.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Provider base URL, without a trailing slash.</summary>
    public string BaseUrl { get; init; } = "https://api.openai.com/v1";

    /// <summary>The providers of <c>[provider.NAME]</c> sections (the <c>openai</c> one of <see cref="ApiKey"/> comes first, in <see cref="Providers"/>).</summary>
    public IReadOnlyList<ProviderSettings> ExtraProviders { get; init; } = [];

    /// <summary>Every provider: <c>openai</c> from <see cref="ApiKey"/> and <see cref="BaseUrl"/> when a key is set, then the others.</summary>
    public IReadOnlyList<ProviderSettings> Providers => ApiKey is null
        ? ExtraProviders
        : [new ProviderSettings { Name = "openai", BaseUrl = BaseUrl, ApiKeys = [ApiKey] }, .. ExtraProviders];

    /// <summary>Sections whose api_keys hold a literal key (warned about at startup).</summary>
    public IReadOnlyList<string> LiteralKeyProviders { get; init; } = [];

    /// <summary>The <c>[routes]</c>; empty: every model goes to the first provider.</summary>
    public IReadOnlyList<RouteRule> Routes { get; init; } = [];

    /// <summary>Whether a request may merge <c>extra_body</c> into the upstream body (openai.allow_extra_body).</summary>
    public bool AllowExtraBody { get; init; }

    /// <summary>Per-model request rules (built in for reasoning models, ini <c>[model.PATTERN]</c> on top).</summary>
    public IReadOnlyList<ModelRule> ModelRules { get; init; } = ModelRule.BuiltIn;

    /// <summary>Whether the embedded offline model answers instead of the provider.</summary>
    public bool Demo { get; init; }

    /// <summary>Delay between tokens of the demo model.</summary>
    public TimeSpan DemoTokenDelay { get; init; } = TimeSpan.FromMilliseconds(40);

    /// <summary>TCP connect timeout to the provider.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait from request to the first upstream event.</summary>
    public TimeSpan FirstTokenTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest gap between two pieces of upstream content (or the finish) once content flows.</summary>
    public TimeSpan UpstreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest an upstream stream may run in all, however steadily it sends.</summary>
    public TimeSpan MaxStreamDuration { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>Retries before the first token (so up to MaxRetries + 1 attempts).</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>Base of the exponential backoff.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Open WebSocket connections allowed at once.</summary>
    public int MaxConnections { get; init; } = 10000;

    /// <summary>Streams in flight on one connection.</summary>
    public int StreamsPerConnection { get; init; } = 8;

    /// <summary>Streams in flight on the whole daemon.</summary>
    public int MaxStreams { get; init; } = 2000;

    /// <summary>Largest accepted client message.</summary>
    public int MaxMessageBytes { get; init; } = 1048576;

    /// <summary>Upper bound of the max_tokens parameter.</summary>
    public int MaxTokens { get; init; } = 4000;

    /// <summary>A connection with no traffic for this long is closed.</summary>
    public TimeSpan ConnectionIdleTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>WebSocket keep-alive interval.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Frames that may wait for a slow reader before it is disconnected.</summary>
    public int SendQueueFrames { get; init; } = 4096;

    /// <summary>Default segment granularity.</summary>
    public SegmentMode Segment { get; init; } = SegmentMode.Clause;

    /// <summary>Pieces shorter than this are merged with the next.</summary>
    public int MinChars { get; init; }

    /// <summary>The lengths of segment mode tts (ini <c>[tts]</c>).</summary>
    public TtsLimits Tts { get; init; } = new();

    /// <summary>The aliases every daemon starts with (protocol.md §2 <c>[models]</c>).</summary>
    public static IReadOnlyDictionary<string, string> DefaultModelAliases { get; } =
        new Dictionary<string, string>(StringComparer.Ordinal) { ["text-davinci-003"] = "gpt-3.5-turbo-instruct" };

    /// <summary>Model aliases: asked → sent.</summary>
    public IReadOnlyDictionary<string, string> ModelAliases { get; init; } = DefaultModelAliases;

    /// <summary>Whether the listener is bound to loopback only.</summary>
    public bool IsLoopback => Host is "127.0.0.1" or "localhost" or "::1" or "[::1]";
}
