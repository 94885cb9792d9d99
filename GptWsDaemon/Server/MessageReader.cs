using System.Diagnostics;
using System.Net.WebSockets;
using GptWsDaemon.Buffers;

namespace GptWsDaemon.Server;

/// <summary>
/// Reads one client message to its end into a pooled buffer (protocol.md §4.4): capped at limits.max_message_bytes
/// (past it the rest is read and discarded, so the next message starts clean), and every buffer reserved from the
/// daemon-wide <see cref="Budget"/> of limits.pending_message_bytes before it is taken. Knows nothing of what the message means.
/// </summary>
internal sealed class MessageReader(WebSocket socket, int maxMessageBytes, Budget pending)
{
    private const int FirstBuffer = 4096;
    private long _startedAt; // Stopwatch ticks of the unfinished message's first fragment; 0 = none

    /// <summary>How long the message being read has been unfinished (zero when none is).</summary>
    public TimeSpan PendingFor => Volatile.Read(ref _startedAt) is var t and not 0 ? Stopwatch.GetElapsedTime(t) : TimeSpan.Zero;

    /// <summary>Reads the message <paramref name="first"/> began; the result must be handed back to <see cref="Release"/>.</summary>
    public async Task<ReceivedMessage> ReadAsync(ValueWebSocketReceiveResult first, long receivedAt, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _startedAt, receivedAt);
        var message = new ReceivedMessage { Type = first.MessageType };
        if (!pending.TryTake(FirstBuffer))
        {
            return Finish(message, MessageOutcome.OverBudget);
        }

        message.Reserved = FirstBuffer;
        PooledBuffer.Grow(ref message.Buffer, 0, FirstBuffer);
        var tooLarge = false;
        var result = first;
        while (!result.EndOfMessage)
        {
            // Pooled buffers come in powers of two: the usable part is capped at the message limit.
            var capacity = Math.Min(message.Buffer.Length, maxMessageBytes);
            if (message.Length == capacity)
            {
                if (capacity >= maxMessageBytes)
                {
                    tooLarge = true;
                    message.Length = 0;
                }
                else
                {
                    var size = Math.Min(message.Buffer.Length * 2, maxMessageBytes);
                    if (!pending.TryTake(size))
                    {
                        return Finish(message, MessageOutcome.OverBudget);
                    }

                    PooledBuffer.Grow(ref message.Buffer, message.Length, size);
                    pending.Give(message.Reserved); // the smaller buffer's share, now returned
                    message.Reserved = size;
                }
            }

            var room = Math.Min(message.Buffer.Length, maxMessageBytes) - message.Length;
            try
            {
                result = await socket.ReceiveAsync(message.Buffer.AsMemory(message.Length, room), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The socket failed mid-message: nobody will release this message, so give back its buffer and bytes here.
                Finish(message, MessageOutcome.Closed);
                Release(message);
                throw;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return Finish(message, MessageOutcome.Closed);
            }

            message.Length += result.Count;
        }

        return Finish(message, tooLarge || message.Length > maxMessageBytes ? MessageOutcome.TooLarge : MessageOutcome.Complete);
    }

    /// <summary>Gives the message's buffer back to the pool and its bytes back to the budget.</summary>
    public void Release(ReceivedMessage message)
    {
        PooledBuffer.Return(ref message.Buffer);
        pending.Give(message.Reserved);
        message.Reserved = 0;
    }

    private ReceivedMessage Finish(ReceivedMessage message, MessageOutcome outcome)
    {
        Volatile.Write(ref _startedAt, 0);
        message.Outcome = outcome;
        return message;
    }
}

/// <summary>How reading a message ended.</summary>
internal enum MessageOutcome
{
    /// <summary>Whole, within the size limit.</summary>
    Complete,

    /// <summary>Larger than limits.max_message_bytes: read to its end and discarded.</summary>
    TooLarge,

    /// <summary>The daemon-wide budget for unfinished messages could not hold it.</summary>
    OverBudget,

    /// <summary>The client sent a close frame in the middle of it.</summary>
    Closed,
}

/// <summary>A message read by <see cref="MessageReader"/>: its bytes (pooled) and what they cost the budget.</summary>
internal sealed class ReceivedMessage
{
    public MessageOutcome Outcome;
    public WebSocketMessageType Type;
    public byte[]? Buffer;
    public int Length;
    public long Reserved;

    /// <summary>The message's bytes.</summary>
    public ReadOnlyMemory<byte> Bytes => Buffer.AsMemory(0, Length);
}
