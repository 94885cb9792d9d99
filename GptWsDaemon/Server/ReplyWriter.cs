using System.Net.WebSockets;
using System.Threading.Channels;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Server;

/// <summary>
/// The only caller of <see cref="WebSocket.SendAsync(ReadOnlyMemory{byte}, WebSocketMessageType, bool, CancellationToken)"/> on its socket:
/// every stream of the connection queues frames here and one loop sends them in order (SPEC §9: one outstanding send).
/// The queue is bounded; a client that lets it fill up is a slow reader and gets dropped, so memory never grows with it.
/// </summary>
public sealed class ReplyWriter
{
    private readonly Channel<OutgoingFrame> _queue;
    private readonly WebSocket _socket;

    /// <summary>Creates the writer for <paramref name="socket"/> with room for <paramref name="capacity"/> frames.</summary>
    public ReplyWriter(WebSocket socket, int capacity)
    {
        _socket = socket;
        _queue = Channel.CreateBounded<OutgoingFrame>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Set when a frame was refused because the queue was full.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Frames waiting now.</summary>
    public int Pending => _queue.Reader.Count;

    /// <summary>Queues a frame without waiting. False (and the frame released) when the queue is full or closed.</summary>
    public bool TryEnqueue(OutgoingFrame frame)
    {
        if (_queue.Writer.TryWrite(frame))
        {
            return true;
        }

        frame.Release();
        Overflowed |= !_queue.Reader.Completion.IsCompleted;
        return false;
    }

    /// <summary>No more frames: the send loop drains what is queued and returns.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>Sends queued frames until <see cref="Complete"/> is called and the queue is empty, or the socket fails.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    try
                    {
                        await _socket.SendAsync(frame.Memory, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        frame.Release();
                    }
                }
            }
        }
        finally
        {
            // Whatever could not be sent goes back to the pool.
            _queue.Writer.TryComplete();
            while (reader.TryRead(out var left))
            {
                left.Release();
            }
        }
    }
}
