using System.Buffers;
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
public sealed class ClientConnection : IDisposable
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private readonly WebSocket _socket;
    private readonly WebSocket _data; // receives and sends go here: the socket HttpListener wraps (ListenerSocketTuning.DataPath)
    private readonly DaemonSettings _settings;
    private readonly RequestParser _parser;
    private readonly IChatUpstream _upstream;
    private readonly DaemonMetrics _metrics;
    private readonly StreamBudget _budget;
    private readonly PendingMessageBudget _pending;
    private readonly LogThrottle _refusalLog;
    private readonly CancellationToken _serverStopping;
    private readonly ReplyWriter _writer;
    private readonly CancellationTokenSource _cts = new();
    private readonly Dictionary<string, StreamSession> _streams = new(StringComparer.Ordinal);
    private readonly HashSet<StreamSession> _running = [];
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);
    private readonly Lock _lock = new();
    private long _lastActivity = Stopwatch.GetTimestamp();
    private long _messageStartedAt; // Stopwatch ticks of an unfinished message's first fragment; 0 = none
    private string? _closeReason;
    private Task _closing = Task.CompletedTask;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;

    /// <summary>Creates the connection around an accepted socket.</summary>
    public ClientConnection(long id, WebSocket socket, DaemonSettings settings, RequestParser parser, IChatUpstream upstream, DaemonMetrics metrics, StreamBudget budget, PendingMessageBudget pending, CancellationToken serverStopping)
    {
        _serverStopping = serverStopping;
        Id = id;
        _socket = socket;
        _data = ListenerSocketTuning.DataPath(socket);
        _settings = settings;
        _parser = parser;
        _upstream = upstream;
        _metrics = metrics;
        _budget = budget;
        _pending = pending;
        _refusalLog = new LogThrottle(10, TimeSpan.FromSeconds(10), metrics.CountSuppressedLines);
        _writer = new ReplyWriter(_data, settings.SendQueueFrames);
    }

    /// <summary>Connection number, for logs.</summary>
    public long Id { get; }

    /// <summary>Streams in flight on this connection.</summary>
    public int StreamCount
    {
        get
        {
            lock (_lock)
            {
                return _running.Count;
            }
        }
    }

    /// <summary>How long since the client last sent a frame or a stream was running.</summary>
    public TimeSpan IdleFor => StreamCount > 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastActivity));

    /// <summary>How long the message being received has been unfinished (zero when none is).</summary>
    public TimeSpan MessagePendingFor => Volatile.Read(ref _messageStartedAt) is var t and not 0 ? Stopwatch.GetElapsedTime(t) : TimeSpan.Zero;

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
            if (_refusalLog.Pending > 0)
            {
                Log.Info("conn={0}: {1} more refusal lines not logged (rate limit)", Id, _refusalLog.Pending);
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
                if (!await ReadMessageAsync(peek, receivedAt, cancellationToken).ConfigureAwait(false))
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

    /// <summary>RFC 6455 §5.5.1: the closing handshake echoes the status code received (none when none was sent).</summary>
    private void ClientClosed()
    {
        if (Interlocked.CompareExchange(ref _closeReason, "client closed", null) is null)
        {
            _closeStatus = _socket.CloseStatus ?? _data.CloseStatus ?? WebSocketCloseStatus.Empty;
        }
    }

    /// <summary>Reads one message to its end and handles it; false when the connection must end (over the pending budget).</summary>
    private async Task<bool> ReadMessageAsync(ValueWebSocketReceiveResult first, long receivedAt, CancellationToken cancellationToken)
    {
        var type = first.MessageType;
        Volatile.Write(ref _messageStartedAt, receivedAt);
        const int FirstBuffer = 4096;
        byte[]? buffer = null;
        long reserved = 0;
        var length = 0;
        var tooLarge = false;
        try
        {
            // Reserved before it is taken: past the daemon-wide budget the memory is never allocated.
            if (!_pending.TryTake(FirstBuffer))
            {
                return OverPendingBudget(receivedAt);
            }

            reserved = FirstBuffer;
            buffer = ArrayPool<byte>.Shared.Rent(FirstBuffer);
            var result = first;
            while (!result.EndOfMessage)
            {
                // Pooled buffers come in powers of two: the usable part is capped at the message limit.
                var capacity = Math.Min(buffer.Length, _settings.MaxMessageBytes);
                if (length == capacity)
                {
                    if (capacity >= _settings.MaxMessageBytes)
                    {
                        // Keep reading (and discarding) to the end of the message so the next one starts clean.
                        tooLarge = true;
                        length = 0;
                    }
                    else
                    {
                        var size = Math.Min(buffer.Length * 2, _settings.MaxMessageBytes);
                        if (!_pending.TryTake(size))
                        {
                            return OverPendingBudget(receivedAt);
                        }

                        var bigger = ArrayPool<byte>.Shared.Rent(size);
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                        _pending.Give(reserved); // the smaller buffer's share, now returned
                        reserved = size;
                    }
                }

                var room = Math.Min(buffer.Length, _settings.MaxMessageBytes) - length;
                result = await _data.ReceiveAsync(buffer.AsMemory(length, room), cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    ClientClosed();
                    throw new OperationCanceledException("client closed mid-message");
                }

                length += result.Count;
            }

            if (tooLarge || length > _settings.MaxMessageBytes)
            {
                Send(ReplyFrames.Error(ErrorCodes.FrameTooLarge, $"frame larger than {_settings.MaxMessageBytes} bytes (limits.max_message_bytes)", null, receivedAt));
            }
            else if (type == WebSocketMessageType.Binary)
            {
                Send(ReplyFrames.Error(ErrorCodes.BadFrame, "binary frames are not accepted; send JSON as a text frame", null, receivedAt));
            }
            else
            {
                try
                {
                    Handle(_parser.Parse(buffer.AsMemory(0, length), receivedAt));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A bug must cost one request, never the connection and its other streams.
                    var correlation = Guid.NewGuid().ToString("N")[..12];
                    Log.Error(e, "conn={0} internal error handling a frame, correlation id {1}", Id, correlation);
                    Send(ReplyFrames.Error(ErrorCodes.Internal, $"internal error (correlation id {correlation})", null, receivedAt));
                }
            }
        }
        finally
        {
            Volatile.Write(ref _messageStartedAt, 0);
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _pending.Give(reserved);
        }

        return true;
    }

    private bool OverPendingBudget(long receivedAt)
    {
        const string Reason = "the daemon's budget for unfinished messages is spent (limits.pending_message_bytes)";
        Log.Warn("conn={0} dropped: {1}", Id, Reason);
        _metrics.CountDropped("pending_budget");
        Send(ReplyFrames.Error(ErrorCodes.FrameTooLarge, Reason + "; connection closed", null, receivedAt));
        if (Interlocked.CompareExchange(ref _closeReason, Reason, null) is null)
        {
            _closeStatus = WebSocketCloseStatus.MessageTooBig;
        }

        return false;
    }

    private void Handle(ClientCommand command)
    {
        switch (command)
        {
            case ClientCommand.Chat chat:
                Start(chat.Request);
                break;
            case ClientCommand.Cancel cancel:
                StreamSession? target;
                lock (_lock)
                {
                    target = _streams.GetValueOrDefault(cancel.Seq.Text);
                }

                // A cancel that crosses the stream's final frame is not an error: that stream already had its one end.
                if (target is null)
                {
                    Log.Debug("conn={0} cancel for seq {1}, which is not streaming", Id, cancel.Seq);
                }
                else
                {
                    target.Cancel(StreamEndReason.ClientCancel);
                }

                break;
            case ClientCommand.Ping ping:
                Send(ReplyFrames.Pong(ping.Seq));
                break;
            case ClientCommand.Invalid invalid:
                _metrics.CountRequest(invalid.Code);
                Log.Debug("request refused seq={0} conn={1} code={2} msg={3}", invalid.Seq?.ToString() ?? "null", Id, invalid.Code, LogText.Client(invalid.Message, 300));
                Send(ReplyFrames.Error(invalid.Code, invalid.Message, invalid.Seq, Stopwatch.GetTimestamp()));
                break;
        }
    }

    private void Start(ChatRequest request)
    {
        (int Code, string Message)? refusal = null;
        StreamSession? session = null;
        lock (_lock)
        {
            if (_serverStopping.IsCancellationRequested || Volatile.Read(ref _closeReason) is not null)
            {
                refusal = (ErrorCodes.AtCapacity, "daemon is shutting down; no new streams");
            }
            else if (_streams.ContainsKey(request.Seq.Text))
            {
                refusal = (ErrorCodes.DuplicateSeq, $"seq {request.Seq.Text} is already streaming on this connection");
            }
            else if (_streams.Count >= _settings.StreamsPerConnection)
            {
                refusal = (ErrorCodes.AtCapacity, $"too many streams on this connection (limits.streams_per_connection = {_settings.StreamsPerConnection})");
            }
            else if (!_budget.TryAcquire())
            {
                refusal = (ErrorCodes.AtCapacity, $"daemon at capacity (limits.max_streams = {_settings.MaxStreams}); retry later");
            }
            else
            {
                session = new StreamSession(request, _upstream, this, _metrics, _settings.MinChars, _cts.Token);
                _streams[request.Seq.Text] = session;
                _running.Add(session);
            }
        }

        if (session is null)
        {
            _metrics.CountRequest(refusal!.Value.Code);
            if (_refusalLog.TryWrite(out var suppressed))
            {
                Log.Info("request refused seq={0} conn={1} model={2} code={3} msg={4}", request.Seq, Id, LogText.Client(request.Model), refusal.Value.Code, LogText.Client(refusal.Value.Message, 300));
            }
            else if (suppressed > 0)
            {
                Log.Info("conn={0}: {1} more refusal lines not logged (rate limit)", Id, suppressed);
            }

            Send(ReplyFrames.Error(refusal.Value.Code, refusal.Value.Message, request.Seq, request.ReceivedAt));
            return;
        }

        _metrics.AddStream(1);
        session.Completion = session.RunAsync();
    }

    /// <summary>Called by a session as its task ends (after its final frame, or after the connection was lost).</summary>
    internal void Finished(StreamSession session)
    {
        Release(session);
        lock (_lock)
        {
            _running.Remove(session);
        }

        Interlocked.Exchange(ref _lastActivity, Stopwatch.GetTimestamp());
        session.Dispose();
    }

    /// <summary>Gives a session's seq, its per-connection slot and its daemon-wide slot back, once.</summary>
    internal void Release(StreamSession session)
    {
        if (Interlocked.Exchange(ref session.Released, 1) != 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_streams.TryGetValue(session.Request.Seq.Text, out var current) && current == session)
            {
                _streams.Remove(session.Request.Seq.Text);
            }
        }

        _budget.Release();
        _metrics.AddStream(-1);
    }

    private void CancelStreams(StreamEndReason reason)
    {
        List<StreamSession> sessions;
        lock (_lock)
        {
            sessions = [.. _running];
        }

        foreach (var s in sessions)
        {
            s.Cancel(reason);
        }
    }

    private async Task WaitForStreamsAsync()
    {
        while (true)
        {
            Task[] tasks;
            lock (_lock)
            {
                tasks = [.. _running.Select(v => v.Completion)];
            }

            if (tasks.Length == 0)
            {
                return;
            }

            if (Array.TrueForAll(tasks, t => t.IsCompleted))
            {
                // A session just registered but its task is not published yet.
                await Task.Yield();
            }

            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
    }
}
