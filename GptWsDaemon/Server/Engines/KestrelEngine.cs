using System.Net;
using GptWsDaemon.Observability;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace GptWsDaemon.Server.Engines;

/// <summary>
/// Kestrel, used directly (no host, no middleware): a request head must be complete within the handshake timeout and
/// within size caps, or the socket is closed; plain HTTP keep-alive is bounded; and an <see cref="AcceptGate"/> stops
/// accepting while the connection budget is spent, so the process never reaches its descriptor limit (at EMFILE the
/// runtime aborts the whole process, which Kestrel's own MaxConcurrentConnections cannot prevent: it accepts first).
/// </summary>
public sealed class KestrelEngine : IServerEngine
{
    private readonly string _host;
    private readonly int _port;
    private readonly TimeSpan _headTimeout;
    private static readonly KestrelLogBridge KestrelLogs = new();
    private readonly AcceptGate _gate;
    private KestrelServer? _server;

    /// <summary>Creates the engine; <paramref name="slots"/> is how many sockets may be open at once (WebSockets, plain HTTP and unfinished heads).</summary>
    public KestrelEngine(string host, int port, int slots, TimeSpan headTimeout)
    {
        _host = host;
        _port = port;
        _headTimeout = headTimeout;
        _gate = new AcceptGate(slots);
        Url = $"http://{(host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host)}:{port}/";
    }

    /// <inheritdoc/>
    public string Url { get; }

    /// <inheritdoc/>
    public async Task StartAsync(Func<IHttpExchange, Task> handler)
    {
        var options = new KestrelServerOptions { AddServerHeader = false, AllowSynchronousIO = false };
        var limits = options.Limits;
        limits.RequestHeadersTimeout = _headTimeout;
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
        limits.MaxRequestLineSize = 8 * 1024;
        limits.MaxRequestHeadersTotalSize = 32 * 1024;
        limits.MaxRequestHeaderCount = 64;
        limits.MaxRequestBodySize = 64 * 1024; // the daemon reads no request bodies
        foreach (var endpoint in await EndpointsAsync(_host, _port).ConfigureAwait(false))
        {
            options.Listen(endpoint, l => l.Protocols = HttpProtocols.Http1);
        }

        // With inline socket completions on, let Kestrel run its pipe continuations inline too: otherwise every frame the
        // daemon sends is handed to an I/O queue thread and every read to the thread pool (two wake-ups per token).
        var transport = new SocketTransportFactory(
            Options.Create(new SocketTransportOptions { NoDelay = true, UnsafePreferInlineScheduling = SocketEngineTuning.IsInline }),
            KestrelLogs);
        _server = new KestrelServer(Options.Create(options), new AcceptGate.Factory(transport, _gate), KestrelLogs);
        try
        {
            await _server.StartAsync(new KestrelApplication(handler), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            _server.Dispose();
            _server = null;
            throw new EngineBindException(e.InnerException?.Message ?? e.Message, e);
        }
    }

    /// <inheritdoc/>
    public async Task StopAsync()
    {
        if (_server is not { } server)
        {
            return;
        }

        _server = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await server.StopAsync(timeout.Token).ConfigureAwait(false);
        server.Dispose();
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private static async Task<IPEndPoint[]> EndpointsAsync(string host, int port) => host switch
    {
        "0.0.0.0" or "*" or "+" => [new IPEndPoint(IPAddress.Any, port)],
        "::" or "[::]" => [new IPEndPoint(IPAddress.IPv6Any, port)],
        "localhost" => [new IPEndPoint(IPAddress.Loopback, port)],
        _ when IPAddress.TryParse(host.Trim('[', ']'), out var ip) => [new IPEndPoint(ip, port)],
        _ => [.. (await ResolveAsync(host).ConfigureAwait(false)).Select(a => new IPEndPoint(a, port))],
    };

    private static async Task<IPAddress[]> ResolveAsync(string host)
    {
        try
        {
            return await Dns.GetHostAddressesAsync(host).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new EngineBindException($"cannot resolve {host}: {e.Message}", e);
        }
    }
}
