using System.Net.WebSockets;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Server.Engines;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// Routing and the upgrade gate, written once above both engines: the test page, /healthz, /metrics, 404/405/426, and
/// for upgrades the checks in order — path, draining (503), handshake (400/426), origin (403), token (401), capacity
/// (503) — before the WebSocket is accepted and handed to <see cref="DaemonServer"/>.
/// </summary>
internal sealed class HttpFront
{
    private const string Text = "text/plain; charset=utf-8";
    private static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Server.HttpFront");
    private static readonly byte[] Icon = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#2b6cb0\"/><path d=\"M3 5h10M3 8h7M3 11h9\" stroke=\"#fff\" stroke-width=\"1.6\"/></svg>"u8.ToArray();
    private readonly DaemonServer _server;
    private readonly DaemonSettings _settings;
    private readonly DaemonMetrics _metrics;
    private readonly AccessGuard _guard;
    private readonly LogThrottle _refusals;
    private readonly IReadOnlyList<System.Net.IPNetwork> _trusted;
    private readonly Lazy<byte[]> _page = new(() => LoadResource("index.html"));
    private readonly Lazy<byte[]> _client = new(() => LoadResource("gptws.js"));

    /// <summary>The guard, for a token reload.</summary>
    public AccessGuard Guard => _guard;

    public HttpFront(DaemonServer server, DaemonSettings settings, DaemonMetrics metrics)
    {
        _server = server;
        _settings = settings;
        _metrics = metrics;
        _guard = new AccessGuard(settings.ResolveTokens(), settings.AllowedOrigins, settings.AdminTokens);
        _trusted = ClientIdentity.Networks(settings.TrustedProxies);
        _refusals = new LogThrottle(20, TimeSpan.FromSeconds(10), metrics.CountSuppressedLines);
    }

    /// <summary>Answers one request; never throws.</summary>
    public async Task HandleAsync(IHttpExchange exchange)
    {
        try
        {
            if (exchange.IsWebSocketRequest)
            {
                await UpgradeAsync(exchange).ConfigureAwait(false);
                return;
            }

            var method = exchange.Method;
            switch (exchange.Path)
            {
                case "/" when method is "GET" or "HEAD":
                    await exchange.RespondAsync(200, "text/html; charset=utf-8", _page.Value).ConfigureAwait(false);
                    break;
                case "/gptws.js" when method is "GET" or "HEAD":
                    // protocol.md §4.5: the JavaScript client (connect, request, cancel, reconnect and resume).
                    await exchange.RespondAsync(200, "text/javascript; charset=utf-8", _client.Value).ConfigureAwait(false);
                    break;
                case "/favicon.ico" when method is "GET" or "HEAD":
                    await exchange.RespondAsync(200, "image/svg+xml", Icon).ConfigureAwait(false);
                    break;
                case "/ws" when method is "GET":
                    await exchange.RespondAsync(426, Text, "expected a WebSocket upgrade\n"u8.ToArray()).ConfigureAwait(false);
                    break;
                case "/healthz" when method is "GET" or "HEAD":
                    // 503 while draining, so balancers that only read the status stop sending clients here.
                    await exchange.RespondAsync(_server.IsStopping ? 503 : 200, "application/json", _server.Health()).ConfigureAwait(false);
                    break;
                case "/metrics" when method is "GET":
                    await ServeMetricsAsync(exchange).ConfigureAwait(false);
                    break;
                case "/usage" when method is "GET":
                    await ServeUsageAsync(exchange).ConfigureAwait(false);
                    break;
                case "/" or "/ws" or "/healthz" or "/metrics" or "/favicon.ico" or "/usage" or "/gptws.js":
                    var allow = exchange.Path is "/metrics" or "/ws" or "/usage" ? "GET" : "GET, HEAD";
                    await exchange.RespondAsync(405, Text, "method not allowed\n"u8.ToArray(), ("Allow", allow)).ConfigureAwait(false);
                    break;
                default:
                    await exchange.RespondAsync(404, Text, "not found\n"u8.ToArray()).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or WebSocketException or System.Net.HttpListenerException or OperationCanceledException)
        {
            Log.Debug("request aborted: {0}", e.Message);
        }
        catch (Exception e)
        {
            Log.Error(e, "request failed");
        }
    }

    private async Task UpgradeAsync(IHttpExchange exchange)
    {
        if (exchange.Path is not ("/" or "/ws"))
        {
            await exchange.RespondAsync(404, Text, "not found\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        if (_server.IsStopping)
        {
            await RefuseAsync(exchange, "shutdown", 503, "shutting down\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        // RFC 6455 §4.2.1: version 13 and a 16-byte base64 key, checked here so both engines answer alike.
        if (exchange.Header("Sec-WebSocket-Version")?.Trim() != "13")
        {
            await exchange.RespondAsync(426, Text, "unsupported WebSocket version (13 expected)\n"u8.ToArray(), ("Sec-WebSocket-Version", "13")).ConfigureAwait(false);
            return;
        }

        if (!IsValidKey(exchange.Header("Sec-WebSocket-Key")))
        {
            await exchange.RespondAsync(400, Text, "bad Sec-WebSocket-Key\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        var origin = exchange.Header("Origin");
        if (!_guard.IsOriginAllowed(origin, exchange.Host, exchange.Header("X-Forwarded-Host")))
        {
            LogRefusal("origin {0} refused: {1}", LogText.Client(origin), _guard.DefaultOrigins
                ? "not this daemon's own page nor a loopback page; list it in server.allowed_origins (or * for any)"
                : "not in server.allowed_origins");
            await RefuseAsync(exchange, "origin", 403, "origin not allowed\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        var client = _guard.HasTokens
            ? _guard.ClientOf(exchange) is { } name ? new ClientIdentity(name, true) : null
            : ClientIdentity.FromAddress(exchange.RemoteAddress, exchange.Header("X-Forwarded-For"), _trusted);
        if (client is null)
        {
            await RefuseAsync(exchange, "auth", 401, "missing or invalid access token\n"u8.ToArray(), ("WWW-Authenticate", "Bearer")).ConfigureAwait(false);
            return;
        }

        if (!_server.TryReserveConnection())
        {
            LogRefusal("upgrade refused: {0} connections open (limits.max_connections)", _settings.MaxConnections, null);
            await RefuseAsync(exchange, "capacity", 503, "too many connections\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        // Behind nginx the peer is the proxy: name the client it forwarded for. Read now: the exchange is gone after accept.
        var peer = exchange.Header("X-Forwarded-For") ?? exchange.RemoteAddress;
        WebSocket socket;
        try
        {
            socket = await exchange.AcceptWebSocketAsync(AccessGuard.SelectSubProtocol(exchange.Header("Sec-WebSocket-Protocol")), _settings.PingInterval).ConfigureAwait(false);
        }
        catch
        {
            _server.ReleaseConnection();
            throw;
        }

        var run = _server.RunConnectionAsync(socket, peer, client);
        if (exchange.UpgradeEndsWithHandler)
        {
            await run.ConfigureAwait(false);
        }
    }

    private Task RefuseAsync(IHttpExchange exchange, string reason, int status, byte[] body, (string, string)? header = null)
    {
        _metrics.CountRejected(reason);
        return exchange.RespondAsync(status, Text, body, header);
    }

    private void LogRefusal(string format, object? a, object? b)
    {
        if (_refusals.TryWrite(out var summary))
        {
            Log.Warn(format, a, b);
        }
        else if (summary > 0)
        {
            Log.Warn("{0} more handshake refusals not logged (rate limit)", summary);
        }
    }

    private async Task ServeMetricsAsync(IHttpExchange exchange)
    {
        if (!_guard.IsAuthorized(exchange))
        {
            await exchange.RespondAsync(401, Text, "missing or invalid access token\n"u8.ToArray(), ("WWW-Authenticate", "Bearer")).ConfigureAwait(false);
            return;
        }

        using var body = new MemoryStream();
        await _metrics.WriteAsync(body, CancellationToken.None).ConfigureAwait(false);
        await exchange.RespondAsync(200, "text/plain; version=0.0.4; charset=utf-8", body.GetBuffer().AsMemory(0, (int)body.Length)).ConfigureAwait(false);
    }

    /// <summary>protocol.md §8 "/usage": only with one of server.admin_tokens (a client's own token is not enough).</summary>
    private async Task ServeUsageAsync(IHttpExchange exchange)
    {
        if (!_guard.IsAdmin(exchange))
        {
            await exchange.RespondAsync(401, Text, (_settings.AdminTokens.Count == 0 ? "no admin tokens configured (server.admin_tokens)\n"u8 : "missing or invalid admin token\n"u8).ToArray(), ("WWW-Authenticate", "Bearer")).ConfigureAwait(false);
            return;
        }

        var clients = _guard.Names.Concat(_settings.Quota.PerClient.Keys);
        var body = await Quotas.UsageReport.WriteAsync(_server.Quota, clients, CancellationToken.None).ConfigureAwait(false);
        await exchange.RespondAsync(200, "application/json", body).ConfigureAwait(false);
    }

    private static bool IsValidKey(string? key)
    {
        Span<byte> decoded = stackalloc byte[18];
        return key is not null && Convert.TryFromBase64String(key.Trim(), decoded, out var n) && n == 16;
    }

    private static byte[] LoadResource(string name)
    {
        using var stream = typeof(HttpFront).Assembly.GetManifestResourceStream("GptWsDaemon.Web." + name)
            ?? throw new InvalidOperationException("embedded " + name + " missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
