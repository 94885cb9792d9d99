using System.Net.WebSockets;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Server;

/// <summary>
/// The only caller of <see cref="WebSocket.SendAsync(ReadOnlyMemory{byte}, WebSocketMessageType, bool, CancellationToken)"/> on its
/// socket (ManagedWebSocket allows one outstanding send). Streams queue frames; whoever finds the writer idle starts one pump that sends
/// until the queue is empty — usually inline on the producer's thread, so a token costs no extra thread hop — and an idle
/// connection holds no buffer and no waiting task (and no queue until it first sends). The queue is bounded: a client that lets it fill up is a slow
/// reader and gets dropped, so memory never grows with it.
/// </summary>
public sealed class ReplyWriter
{
    private readonly WebSocket _socket;
    private readonly int _capacity;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Queue<OutgoingFrame>? _queue;
    private bool _pumping;
    private bool _completed;
    private bool _failed;
    private int _credit; // room the queued replayed frames were given beyond the capacity

    /// <summary>Creates the writer for <paramref name="socket"/> with room for <paramref name="capacity"/> waiting frames.</summary>
    public ReplyWriter(WebSocket socket, int capacity)
    {
        _socket = socket;
        _capacity = capacity;
    }

    /// <summary>Set when a frame was refused because the queue was full.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Completes when, after <see cref="Complete"/>, every queued frame was sent; faults when a send failed.</summary>
    public Task Completion => _completion.Task;

    private readonly Lock _sync = new();

    /// <summary>
    /// Queues a frame without waiting. False (and the frame released) when the queue is full, closed or broken. A
    /// <paramref name="replay"/> (a resumed stream's log, bounded by resume.max_log_bytes) is never refused for room.
    /// </summary>
    public bool TryEnqueue(OutgoingFrame frame, bool replay = false)
    {
        bool startPump;
        lock (_sync)
        {
            if (_completed || _failed || (!replay && (_queue?.Count ?? 0) >= _capacity + _credit))
            {
                Overflowed |= !_completed && !_failed;
                frame.Release();
                return false;
            }

            (_queue ??= new Queue<OutgoingFrame>()).Enqueue(frame);
            _credit += replay ? 1 : 0;
            startPump = !_pumping;
            _pumping = true;
        }

        if (startPump)
        {
            Observe(PumpAsync());
        }

        return true;
    }

    /// <summary>No more frames: <see cref="Completion"/> completes once what is queued has been sent.</summary>
    public void Complete()
    {
        lock (_sync)
        {
            _completed = true;
            if (_pumping)
            {
                return; // the pump completes it when it runs dry
            }
        }

        _completion.TrySetResult();
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            OutgoingFrame frame;
            lock (_sync)
            {
                _credit -= _credit > 0 ? 1 : 0;
                if (_queue is null || !_queue.TryDequeue(out frame))
                {
                    // The empty queue stays (a few words): dropping it would cost an allocation per token.
                    _pumping = false;
                    if (_completed)
                    {
                        _completion.TrySetResult();
                    }

                    return;
                }
            }

            try
            {
                // No token on purpose: with a cancellable one ManagedWebSocket leaves its synchronous fast path for an
                // async fallback with a registration per frame. A dropped connection aborts the socket, which ends the send.
                await _socket.SendAsync(frame.Memory, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }
            finally
            {
                frame.Release();
            }
        }
    }

    private void Fail(Exception e)
    {
        Queue<OutgoingFrame>? left;
        lock (_sync)
        {
            _failed = true;
            _pumping = false;
            left = _queue;
            _queue = null;
        }

        while (left is not null && left.TryDequeue(out var frame))
        {
            frame.Release();
        }

        _completion.TrySetException(e);
    }

    /// <summary>The pump never throws (failures go to <see cref="Completion"/>); this only keeps its task observed.</summary>
    private static void Observe(Task pump)
    {
        if (!pump.IsCompleted)
        {
            pump.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}
