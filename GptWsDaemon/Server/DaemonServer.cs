using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Server.Engines;
using GptWsDaemon.Upstream;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// The daemon's server: one engine (HttpListener or Kestrel) in front of <see cref="HttpFront"/> on one port, and every
/// connection and request task tracked so that shutdown can drain, cancel and wait for them.
/// </summary>
public sealed class DaemonServer : IAsyncDisposable
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private readonly DaemonSettings _settings;
    private readonly IChatUpstream _upstream;
    private readonly DaemonMetrics _metrics;
    private readonly RequestParser _parser;
    private readonly Budget _budget;
    private readonly Budget _pending;
    private readonly IServerEngine _engine;
    private readonly HttpFront _front;
    private readonly ConcurrentDictionary<long, ClientConnection> _connections = new();
    private readonly ConcurrentDictionary<Task, byte> _tasks = new();
    private readonly CancellationTokenSource _stopping = new();
    private long _nextConnectionId;
    private int _openConnections;
    private bool _started;
    private Task _sweep = Task.CompletedTask;

    /// <summary>Creates the server; <see cref="StartAsync"/> binds it. Quotas (or /usage) need a gate: <paramref name="quota"/>, else one over memory.</summary>
    /// <remarks><paramref name="resumables"/>: the resumable streams (over Redis when shared); null, a memory log of its own.</remarks>
    public DaemonServer(DaemonSettings settings, IChatUpstream upstream, DaemonMetrics metrics, Quotas.QuotaGate? quota = null, Streams.StreamRegistry? resumables = null)
    {
        _settings = settings;
        Resumables = resumables ?? new Streams.StreamRegistry(settings.Resume, metrics);
        Quota = quota ?? (settings.Quota.Any || settings.AdminTokens.Count > 0 ? new Quotas.QuotaGate(settings.Quota, new Quotas.MemoryQuotaStore(), metrics) : null);
        _upstream = upstream;
        _metrics = metrics;
        _parser = new RequestParser(settings);
        _budget = new Budget(settings.MaxStreams);
        _pending = new Budget(settings.PendingMessageBytes);
        _front = new HttpFront(this, settings, metrics);
        _engine = settings.Engine == EngineKind.Kestrel
            ? new KestrelEngine(settings.Host, settings.Port, DescriptorBudget.AcceptSlots(settings), settings.HandshakeTimeout)
            : new ListenerEngine(settings.Host, settings.Port);
    }

    /// <summary>The quota gate; null when no quota is configured (nothing is counted then).</summary>
    public Quotas.QuotaGate? Quota { get; }

    /// <summary>The resumable streams (protocol.md §4.5).</summary>
    public Streams.StreamRegistry Resumables { get; }

    /// <summary>The guard of handshakes (its tokens are replaced on a reload).</summary>
    public AccessGuard Guard => _front.Guard;

    /// <summary>The URL the engine is bound to.</summary>
    public string Url => _engine.Url;

    /// <summary>Open WebSocket connections.</summary>
    public int Connections => Volatile.Read(ref _openConnections);

    /// <summary>Streams in flight.</summary>
    public int Streams => (int)_budget.Used;

    /// <summary>Bytes held by unfinished incoming messages, daemon-wide.</summary>
    public long PendingMessageBytes => _pending.Used;

    /// <summary>True once shutdown began: new upgrades get 503 and new requests 1006.</summary>
    internal bool IsStopping => _stopping.IsCancellationRequested;

    /// <summary>Binds the port and starts accepting.</summary>
    /// <exception cref="EngineBindException">The port cannot be bound.</exception>
    public async Task StartAsync()
    {
        await _engine.StartAsync(Handle).ConfigureAwait(false);
        _started = true;
        _sweep = SweepAsync(_stopping.Token);
    }

    /// <summary>
    /// README "Lifecycle": stop accepting new streams, let running ones finish up to <paramref name="grace"/>, then cancel
    /// the rest with a final frame and close sockets with 1001.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_stopping.IsCancellationRequested || !_started)
        {
            return;
        }

        // Connections read this token before starting a stream: from here on every new request is refused with 1006.
        await _stopping.CancelAsync().ConfigureAwait(false);
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

        // Streams nobody reads now end too, each with a final frame in its log for a resumer on another instance.
        await Resumables.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var all = Task.WhenAll(_tasks.Keys);
        // Each connection's close is bounded (answer 5 s + close frame 2 s + drain 10 s): wait a little beyond that.
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(20))).ConfigureAwait(false) != all)
        {
            Log.Warn("{0} connections did not close in time", Connections);
        }

        await _engine.StopAsync().ConfigureAwait(false);
        await _sweep.ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        await _engine.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Takes a connection slot (limits.max_connections); false when all are taken.</summary>
    internal bool TryReserveConnection()
    {
        if (Interlocked.Increment(ref _openConnections) <= _settings.MaxConnections)
        {
            return true;
        }

        Interlocked.Decrement(ref _openConnections);
        return false;
    }

    /// <summary>Gives back a slot whose handshake failed.</summary>
    internal void ReleaseConnection() => Interlocked.Decrement(ref _openConnections);

    /// <summary>Runs an accepted WebSocket to its end as a tracked task (its slot was reserved); never throws.</summary>
    internal Task RunConnectionAsync(WebSocket socket, string? peer, ClientIdentity client)
    {
        var id = Interlocked.Increment(ref _nextConnectionId);
        Log.Debug("conn={0} open from {1} client={2}", id, LogText.Client(peer), LogText.Client(client.Name));
        var run = ServeConnectionAsync(id, socket, client);
        Track(run);
        return run;
    }

    /// <summary>The /healthz body.</summary>
    internal byte[] Health()
    {
        // protocol.md §8 /healthz: providers with their keys by masked id, never a key.
        using var buffer = new MemoryStream();
        // Relaxed escaping: every string here is the daemon's own (names from the ini, masked ids), and "…" stays readable.
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("status"u8, _stopping.IsCancellationRequested ? "draining" : "ok");
            w.WriteString("upstream"u8, _upstream.Name);
            w.WriteNumber("connections"u8, Connections);
            w.WriteNumber("streams"u8, Streams);
            w.WriteStartArray("providers"u8);
            foreach (var p in _upstream.Providers)
            {
                w.WriteStartObject();
                w.WriteString("name"u8, p.Name);
                w.WriteString("kind"u8, p.Settings.Kind.ToString().ToLowerInvariant());
                w.WriteStartArray("keys"u8);
                foreach (var k in p.Keys.States())
                {
                    w.WriteStartObject();
                    w.WriteString("id"u8, k.Id);
                    w.WriteString("state"u8, k.Reason switch { Upstream.Providers.KeyPool.BenchReason.Refused => "refused", Upstream.Providers.KeyPool.BenchReason.RateLimited => "rate_limited", _ => "ok" });
                    if (k.Until is { } until)
                    {
                        w.WriteString("until"u8, until.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
                    }

                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private Task Handle(IHttpExchange exchange)
    {
        // Every request task is tracked (HttpListener's are not awaited by anyone else), so shutdown can wait for it.
        var task = _front.HandleAsync(exchange);
        Track(task);
        return task;
    }

    private void Track(Task task)
    {
        if (task.IsCompleted)
        {
            return;
        }

        _tasks.TryAdd(task, 0);
        task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _), _tasks, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ServeConnectionAsync(long id, WebSocket socket, ClientIdentity client)
    {
        try
        {
            using var connection = new ClientConnection(id, socket, _settings, _parser, _upstream, _metrics, _budget, _pending, _stopping.Token) { Client = client, Quota = Quota, Resumables = Resumables };
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

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        // Idle connections closed after limits.idle_timeout_seconds; messages left unfinished past
        // limits.message_timeout_seconds end their connection.
        var shortest = Math.Min(_settings.ConnectionIdleTimeout.TotalSeconds, _settings.MessageTimeout.TotalSeconds);
        var period = TimeSpan.FromSeconds(Math.Clamp(shortest / 4, 0.25, 5));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var c in _connections.Values)
                {
                    if (c.MessagePendingFor > _settings.MessageTimeout)
                    {
                        c.Drop(WebSocketCloseStatus.PolicyViolation, $"message not completed within {_settings.MessageTimeout.TotalSeconds:0} s (limits.message_timeout_seconds)", "message_timeout");
                    }
                    else if (c.IdleFor > _settings.ConnectionIdleTimeout)
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
