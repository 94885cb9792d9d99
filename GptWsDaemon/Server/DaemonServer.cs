using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// The <see cref="HttpListener"/> accept loop: WebSocket upgrades on / and /ws, the test page, /healthz and /metrics on one
/// port (SPEC §3). Tracks every connection and request task so that shutdown can drain, cancel and wait for them.
/// </summary>
public sealed class DaemonServer : IAsyncDisposable
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private readonly DaemonSettings _settings;
    private readonly IChatUpstream _upstream;
    private readonly DaemonMetrics _metrics;
    private readonly AccessGuard _guard;
    private readonly RequestParser _parser;
    private readonly StreamBudget _budget;
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<long, ClientConnection> _connections = new();
    private readonly ConcurrentDictionary<Task, byte> _tasks = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lazy<byte[]> _page = new(LoadPage);
    private long _nextConnectionId;
    private int _openConnections;
    private Task _acceptLoops = Task.CompletedTask;

    /// <summary>Creates the server; <see cref="Start"/> binds it.</summary>
    public DaemonServer(DaemonSettings settings, IChatUpstream upstream, DaemonMetrics metrics)
    {
        _settings = settings;
        _upstream = upstream;
        _metrics = metrics;
        _guard = new AccessGuard(settings.AccessTokens, settings.AllowedOrigins);
        _parser = new RequestParser(settings);
        _budget = new StreamBudget(settings.MaxStreams);
        var prefixes = Prefixes(settings.Host, settings.Port).ToList();
        Url = prefixes[0];
        foreach (var prefix in prefixes)
        {
            _listener.Prefixes.Add(prefix);
        }

        _listener.IgnoreWriteExceptions = true;
    }

    /// <summary>The URL the listener is bound to.</summary>
    public string Url { get; }

    /// <summary>Open WebSocket connections.</summary>
    public int Connections => Volatile.Read(ref _openConnections);

    /// <summary>Streams in flight.</summary>
    public int Streams => _budget.Used;

    /// <summary>Binds the port and starts accepting.</summary>
    /// <exception cref="HttpListenerException">The port cannot be bound.</exception>
    public void Start()
    {
        _listener.Start();
        var loops = new List<Task>();
        for (var i = 0; i < Math.Max(2, Environment.ProcessorCount); i++)
        {
            loops.Add(AcceptLoopAsync());
        }

        loops.Add(SweepIdleAsync(_stopping.Token));
        _acceptLoops = Task.WhenAll(loops);
    }

    /// <summary>
    /// SPEC §7: "stop accepting, let streams finish up to server.shutdown_grace_seconds, then cancel the rest with a final
    /// frame, close sockets with 1001".
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_stopping.IsCancellationRequested || !_listener.IsListening)
        {
            return;
        }

        // Connections read this token before starting a stream: from here on every new request is refused with 1006.
        _stopping.Cancel();
        Log.Info("shutting down: {0} connections, {1} streams; grace {2:0} s", Connections, Streams, grace.TotalSeconds);

        var deadline = DateTime.UtcNow + grace;
        while (_budget.Used > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        if (_budget.Used > 0)
        {
            Log.Info("grace period over: cancelling {0} streams", _budget.Used);
        }

        foreach (var c in _connections.Values)
        {
            c.Shutdown();
        }

        var all = Task.WhenAll(_tasks.Keys);
        // Each connection's close is bounded (answer 5 s + close frame 2 s + drain 10 s): wait a little beyond that.
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(20))).ConfigureAwait(false) != all)
        {
            Log.Warn("{0} connections did not close in time", Connections);
        }

        _listener.Close();
        try
        {
            await _acceptLoops.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.Warn("accept loops did not stop in time");
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>
    /// HttpListener matches a request's Host header against its prefixes, so loopback is bound under both of its names;
    /// "+" (any address) matches every Host.
    /// </summary>
    private static IEnumerable<string> Prefixes(string host, int port)
    {
        var h = host switch
        {
            "0.0.0.0" or "::" or "[::]" or "*" or "+" => "+",
            _ when host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') => $"[{host}]",
            _ => host,
        };
        yield return $"http://{h}:{port}/";
        if (h is "127.0.0.1" or "localhost")
        {
            yield return $"http://{(h == "localhost" ? "127.0.0.1" : "localhost")}:{port}/";
        }
    }

    private static byte[] LoadPage()
    {
        using var stream = typeof(DaemonServer).Assembly.GetManifestResourceStream("GptWsDaemon.Web.index.html")
            ?? throw new InvalidOperationException("embedded test page missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private void Track(Task task)
    {
        _tasks.TryAdd(task, 0);
        task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _), _tasks, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                if (!_listener.IsListening)
                {
                    return;
                }

                Log.Warn("accept failed: {0}", e.Message);
                continue;
            }

            Track(HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            var request = context.Request;
            var path = request.Url?.AbsolutePath ?? "/";
            if (request.IsWebSocketRequest)
            {
                await HandleUpgradeAsync(context, path).ConfigureAwait(false);
                return;
            }

            switch (path)
            {
                case "/" when request.HttpMethod is "GET" or "HEAD":
                    await RespondAsync(context, 200, "text/html; charset=utf-8", _page.Value).ConfigureAwait(false);
                    break;
                case "/ws" when request.HttpMethod is "GET":
                    await RespondAsync(context, 426, "text/plain; charset=utf-8", "expected a WebSocket upgrade\n"u8.ToArray()).ConfigureAwait(false);
                    break;
                case "/healthz" when request.HttpMethod is "GET" or "HEAD":
                    // 503 while draining, so balancers that only read the status stop sending clients here.
                    await RespondAsync(context, _stopping.IsCancellationRequested ? 503 : 200, "application/json", Health()).ConfigureAwait(false);
                    break;
                case "/metrics" when request.HttpMethod is "GET":
                    await ServeMetricsAsync(context).ConfigureAwait(false);
                    break;
                case "/" or "/ws" or "/healthz" or "/metrics":
                    context.Response.AddHeader("Allow", path == "/metrics" || path == "/ws" ? "GET" : "GET, HEAD");
                    await RespondAsync(context, 405, "text/plain; charset=utf-8", "method not allowed\n"u8.ToArray()).ConfigureAwait(false);
                    break;
                default:
                    await RespondAsync(context, 404, "text/plain; charset=utf-8", "not found\n"u8.ToArray()).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or WebSocketException)
        {
            Log.Debug("request aborted: {0}", e.Message);
        }
        catch (Exception e)
        {
            Log.Error(e, "request failed");
            context.Response.Abort();
        }
    }

    private async Task HandleUpgradeAsync(HttpListenerContext context, string path)
    {
        var request = context.Request;
        if (path is not ("/" or "/ws"))
        {
            await RespondAsync(context, 404, "text/plain; charset=utf-8", "not found\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        if (_stopping.IsCancellationRequested)
        {
            _metrics.CountRejected("shutdown");
            await RespondAsync(context, 503, "text/plain; charset=utf-8", "shutting down\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        if (!_guard.IsOriginAllowed(request.Headers["Origin"]))
        {
            _metrics.CountRejected("origin");
            await RespondAsync(context, 403, "text/plain; charset=utf-8", "origin not allowed\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        if (!_guard.IsAuthorized(request.Headers, request.QueryString))
        {
            _metrics.CountRejected("auth");
            context.Response.AddHeader("WWW-Authenticate", "Bearer");
            await RespondAsync(context, 401, "text/plain; charset=utf-8", "missing or invalid access token\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        if (Interlocked.Increment(ref _openConnections) > _settings.MaxConnections)
        {
            Interlocked.Decrement(ref _openConnections);
            _metrics.CountRejected("capacity");
            await RespondAsync(context, 503, "text/plain; charset=utf-8", "too many connections\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        var id = Interlocked.Increment(ref _nextConnectionId);
        WebSocket socket;
        try
        {
            ListenerSocketTuning.TrySetNoDelay(context);
            socket = (await context.AcceptWebSocketAsync(null, 4096, _settings.PingInterval).ConfigureAwait(false)).WebSocket;
        }
        catch
        {
            Interlocked.Decrement(ref _openConnections);
            throw;
        }

        // Behind nginx the peer is the proxy: name the client it forwarded for.
        Log.Debug("conn={0} open from {1}", id, request.Headers["X-Forwarded-For"] ?? request.RemoteEndPoint?.ToString());

        // The connection runs as its own tracked task so that this request's state machine, and with it the
        // HttpListenerContext and its header tables, can be collected: ~2 KiB less per open connection.
        Track(ServeConnectionAsync(id, socket));
    }

    private async Task ServeConnectionAsync(long id, WebSocket socket)
    {
        try
        {
            using var connection = new ClientConnection(id, socket, _settings, _parser, _upstream, _metrics, _budget, _stopping.Token);
            _connections[id] = connection;
            try
            {
                await connection.RunAsync().ConfigureAwait(false);
            }
            finally
            {
                _connections.TryRemove(id, out _);
            }
        }
        catch (Exception e)
        {
            Log.Error(e, "conn={0} failed", id);
        }
        finally
        {
            Interlocked.Decrement(ref _openConnections);
        }
    }

    private async Task ServeMetricsAsync(HttpListenerContext context)
    {
        if (!_guard.IsAuthorized(context.Request.Headers, context.Request.QueryString))
        {
            context.Response.AddHeader("WWW-Authenticate", "Bearer");
            await RespondAsync(context, 401, "text/plain; charset=utf-8", "missing or invalid access token\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        using var body = new MemoryStream();
        await _metrics.WriteAsync(body, _stopping.Token).ConfigureAwait(false);
        await RespondAsync(context, 200, "text/plain; version=0.0.4; charset=utf-8", body.ToArray()).ConfigureAwait(false);
    }

    private byte[] Health()
    {
        var status = _stopping.IsCancellationRequested ? "draining" : "ok";
        var json = FormattableString.Invariant(
            $"{{\"status\":\"{status}\",\"upstream\":\"{_upstream.Name}\",\"connections\":{Connections},\"streams\":{Streams}}}");
        return Encoding.UTF8.GetBytes(json);
    }

    private static async Task RespondAsync(HttpListenerContext context, int status, string contentType, byte[] body)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength64 = body.Length;
        response.Headers["Cache-Control"] = "no-store";
        if (context.Request.HttpMethod != "HEAD")
        {
            await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
        }

        response.Close();
    }

    private async Task SweepIdleAsync(CancellationToken cancellationToken)
    {
        // SPEC §7: "idle connections closed after limits.idle_timeout_seconds".
        var period = TimeSpan.FromSeconds(Math.Clamp(_settings.ConnectionIdleTimeout.TotalSeconds / 4, 0.25, 5));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var c in _connections.Values)
                {
                    if (c.IdleFor > _settings.ConnectionIdleTimeout)
                    {
                        c.RequestClose(WebSocketCloseStatus.NormalClosure, "idle timeout");
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }
}
