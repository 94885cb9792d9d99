// Over 300 lines: the receive loop, the send loop and the closing handshake share one close state; split, each would need all of it.
using System.Diagnostics;
using System.Net.WebSockets;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream;
using NLog;

namespace GptWsDaemon.Server;

/// <summary>
/// One WebSocket client: a receive loop that parses frames and starts streams, and a <see cref="ReplyWriter"/> loop that
/// sends every frame. When either side ends, the other is cancelled and awaited, and every upstream request is aborted.
/// </summary>
public sealed class ClientConnection : IStreamHost, Streams.IStreamReader, IDisposable
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private readonly WebSocket _socket;
    private readonly WebSocket _data; // receives and sends go here: the socket HttpListener wraps (ListenerSocketTuning.DataPath)
    private readonly DaemonSettings _settings;
    private readonly IChatUpstream _upstream;
    private readonly DaemonMetrics _metrics;
    private readonly ConnectionStreams _streams;
    private readonly ConnectionInbox _inbox;
    private readonly CancellationToken _serverStopping;
    private readonly ReplyWriter _writer;
    private readonly CancellationTokenSource _cts = new();
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);
    private long _lastActivity = Stopwatch.GetTimestamp();
    private string? _closeReason;
    private Task _closing = Task.CompletedTask;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;

    /// <summary>Creates the connection around an accepted socket.</summary>
    public ClientConnection(long id, WebSocket socket, DaemonSettings settings, RequestParser parser, IChatUpstream upstream, DaemonMetrics metrics, Budget budget, Budget pending, CancellationToken serverStopping)
    {
        _serverStopping = serverStopping;
        Id = id;
        _socket = socket;
        _data = ListenerSocketTuning.DataPath(socket);
        _settings = settings;
        _upstream = upstream;
        _metrics = metrics;
        _streams = new ConnectionStreams(settings, budget, metrics);
        _inbox = new ConnectionInbox(this, new MessageReader(_data, settings.MaxMessageBytes, pending), parser, _streams, settings, metrics);
        _writer = new ReplyWriter(_data, settings.SendQueueFrames);
    }

    /// <summary>Connection number, for logs.</summary>
    public long Id { get; }

    /// <summary>Streams in flight on this connection.</summary>
    public int StreamCount => _streams.Running;

    /// <summary>How long since the client last sent a frame or a stream was running.</summary>
    public TimeSpan IdleFor => StreamCount > 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastActivity));

    /// <summary>How long the message being received has been unfinished (zero when none is).</summary>
    public TimeSpan MessagePendingFor => _inbox.PendingFor;

    /// <summary>Queues a frame for the client; a full queue means a slow reader, which is dropped.</summary>
    public void Send(OutgoingFrame frame)
    {
        if (!_writer.TryEnqueue(frame) && _writer.Overflowed)
        {
            Abort("slow reader: send queue full");
        }
    }

    /// <summary>Runs both loops until the client leaves or the daemon closes the connection.</summary>
    public async Task RunAsync()
    {
        _metrics.AddConnection(1);
        var sendLoop = _writer.Completion;
        var receiveLoop = ReceiveLoopAsync(_cts.Token);
        try
        {
            var first = await Task.WhenAny(receiveLoop, sendLoop).ConfigureAwait(false);
            if (first == receiveLoop)
            {
                // The client closed or vanished: its streams are already cancelled; let the writer drain and close.
                await WaitForStreamsAsync().ConfigureAwait(false);
                _writer.Complete();
                await FinishSendingAsync(sendLoop).ConfigureAwait(false);
                await CloseOutputAsync().ConfigureAwait(false);
            }
            else
            {
                // The send loop ended: either we asked to close (idle, shutdown) or the socket failed under a send.
                var sent = await FinishSendingAsync(sendLoop).ConfigureAwait(false);
                if (sent && _closeReason is not null)
                {
                    await CloseOutputAsync().ConfigureAwait(false);
                }
                else
                {
                    Abort(_closeReason ?? "send failed");
                }

                // Wait for the client's answering close frame, but not forever.
                if (await Task.WhenAny(receiveLoop, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false) != receiveLoop)
                {
                    Abort("no close answer");
                }

                await receiveLoop.ConfigureAwait(false);
                await WaitForStreamsAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Log.Error(e, "conn={0} failed", Id);
            CancelStreams(StreamEndReason.ConnectionLost);
        }
        finally
        {
            _socket.Abort();
            await _closing.ConfigureAwait(false); // never throws; by now the streams it waited for are gone
            _metrics.AddConnection(-1);
            if (_inbox.SuppressedRefusals > 0)
            {
                Log.Info("conn={0}: {1} more refusal lines not logged (rate limit)", Id, _inbox.SuppressedRefusals);
            }

            Log.Debug("conn={0} closed ({1})", Id, _closeReason ?? "client left");
        }
    }

    /// <summary>Cancels every stream with a final <c>cancelled</c> frame and closes with 1001 once they ended.</summary>
    public void Shutdown()
    {
        CancelStreams(StreamEndReason.Shutdown);
        RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
    }

    /// <summary>Closes the connection (idle timeout, shutdown) after the streams are done.</summary>
    public void RequestClose(WebSocketCloseStatus status, string reason)
    {
        // The idle sweeper and shutdown may both ask: the first one wins.
        if (Interlocked.CompareExchange(ref _closeReason, reason, null) is not null)
        {
            return;
        }

        _closeStatus = status;
        _closing = ClosingHandshakeAsync();
    }

    /// <summary>
    /// Ends a misbehaving client's connection (message timeout, say): its streams are cancelled without final frames, what
    /// is queued is sent, then a close frame with <paramref name="status"/>.
    /// </summary>
    public void Drop(WebSocketCloseStatus status, string reason, string metric)
    {
        if (Volatile.Read(ref _closeReason) is not null)
        {
            return;
        }

        Log.Warn("conn={0} dropped: {1}", Id, reason);
        _metrics.CountDropped(metric);
        CancelStreams(StreamEndReason.ConnectionLost);
        RequestClose(status, reason);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _cts.Dispose();
        _socket.Dispose();
    }

    private async Task ClosingHandshakeAsync()
    {
        try
        {
            await WaitForStreamsAsync().ConfigureAwait(false);
            _writer.Complete();

            // Sends carry no token: a client that stopped reading would hold this connection open for good.
            await _writer.Completion.WaitAsync(CloseTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Abort("close timed out: the client is not reading");
        }
        catch (Exception e)
        {
            Log.Debug(e, "conn={0} close", Id);
        }
    }

    /// <summary>Drops the client at once: its upstream requests are aborted and no more frames are sent.</summary>
    private void Abort(string reason)
    {
        if (_closeReason is null)
        {
            _closeReason = reason;
            Log.Warn("conn={0} dropped: {1}", Id, reason);
        }

        CancelStreams(StreamEndReason.ConnectionLost);
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Abort();
    }

    /// <summary>Awaits the send loop (bounded); true when it drained normally.</summary>
    private static async Task<bool> FinishSendingAsync(Task sendLoop)
    {
        try
        {
            await sendLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException or IOException)
        {
            return false;
        }
    }

    private async Task CloseOutputAsync()
    {
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(_closeStatus, _closeReason ?? string.Empty, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The client is gone or not answering.
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // Wait with a zero-byte receive: an idle connection holds no buffer.
                var peek = await _data.ReceiveAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                if (peek.MessageType == WebSocketMessageType.Close)
                {
                    ClientClosed();
                    return;
                }

                var receivedAt = Stopwatch.GetTimestamp();
                Interlocked.Exchange(ref _lastActivity, receivedAt);
                if (!await _inbox.ReadAsync(peek, receivedAt, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            _closeReason ??= "connection lost: " + e.Message;
        }
        finally
        {
            // Whatever ended the loop, nobody will read these streams any more: abort their upstream requests now.
            CancelStreams(StreamEndReason.ConnectionLost);
        }
    }

    /// <summary>True once the connection is closing: no new streams.</summary>
    internal bool IsClosing => _serverStopping.IsCancellationRequested || Volatile.Read(ref _closeReason) is not null;

    /// <summary>
    /// A new session for <paramref name="request"/>: linked to this connection, or — writing to <paramref name="log"/>
    /// (a resumable stream) — with a lifetime of its own, since it goes on when the connection drops.
    /// </summary>
    internal StreamSession NewSession(ChatRequest request, Streams.StreamLog? log = null) =>
        new(request, _upstream, log ?? (IStreamHost)this, _metrics, _settings.MinChars, _settings.Tts, log is null ? _cts.Token : CancellationToken.None)
        {
            Client = Client, Quota = Quota, MaxOutputTokens = _settings.MaxOutputTokens,
        };

    /// <summary>Gives back a daemon-wide stream slot (a resumable stream's, when it ends).</summary>
    internal void GiveDaemonSlot() => _streams.GiveDaemonSlot();

    /// <summary>The daemon's resumable streams (protocol.md §4.5).</summary>
    internal Streams.StreamRegistry? Resumables { get; init; }

    /// <summary>Who may resume this connection's streams: its access token's name (null with no tokens: anyone).</summary>
    internal string? Owner => Client.Named ? Client.Name : null;

    /// <inheritdoc/>
    void Streams.IStreamReader.SendReplay(OutgoingFrame frame) => _writer.TryEnqueue(frame, replay: true);

    /// <inheritdoc/>
    void Streams.IStreamReader.Release(IStreamSlot stream) => _streams.Release(stream);

    /// <inheritdoc/>
    void Streams.IStreamReader.Ended(IStreamSlot stream)
    {
        _streams.Finished(stream);
        Interlocked.Exchange(ref _lastActivity, Stopwatch.GetTimestamp()); // idle from the end of its last stream
    }

    /// <summary>Who this connection's requests are charged to.</summary>
    internal ClientIdentity Client { get; init; } = new("unknown", false);

    /// <summary>The quota gate, or null when nothing is counted.</summary>
    internal Quotas.QuotaGate? Quota { get; init; }

    /// <summary>RFC 6455 §5.5.1: the closing handshake echoes the status code received (none when none was sent).</summary>
    internal void ClientClosed()
    {
        if (Interlocked.CompareExchange(ref _closeReason, "client closed", null) is null)
        {
            _closeStatus = _socket.CloseStatus ?? _data.CloseStatus ?? WebSocketCloseStatus.Empty;
        }
    }

    /// <summary>Called by a session as its task ends (after its final frame, or after the connection was lost).</summary>
    public void Finished(StreamSession session)
    {
        ((Streams.IStreamReader)this).Ended(session);
        session.Dispose();
    }

    /// <summary>Gives a session's seq, its per-connection slot and its daemon-wide slot back, once.</summary>
    public void Release(StreamSession session) => _streams.Release(session);

    private void CancelStreams(StreamEndReason reason) => _streams.CancelAll(reason);

    private Task WaitForStreamsAsync() => _streams.WaitAllAsync();
}
