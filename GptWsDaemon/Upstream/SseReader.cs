using GptWsDaemon.Buffers;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace GptWsDaemon.Upstream;

/// <summary>
/// Reads server-sent events from a byte stream as the WHATWG spec says
/// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
/// Works on bytes and decodes only whole fields, so a UTF-8 character or a CRLF split across reads is never mangled.
/// </summary>
public sealed class SseReader
{
    /// <summary>Default cap on one line: an upstream that never sends a newline cannot grow our buffer without end.</summary>
    public const int DefaultMaxLineBytes = 1024 * 1024;

    private const byte CR = (byte)'\r';
    private const byte LF = (byte)'\n';
    private const string DefaultEventType = "message";

    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private readonly IByteArrival? _arrival;

    /// <summary>Creates a reader over <paramref name="stream"/>.</summary>
    /// <param name="stream">The event stream's bytes.</param>
    /// <param name="maxLineBytes">Cap on one line.</param>
    /// <param name="arrival">Where to wait for more bytes once <paramref name="stream"/> has handed over all it held; null: a zero-byte read on the stream.</param>
    public SseReader(Stream stream, int maxLineBytes = DefaultMaxLineBytes, IByteArrival? arrival = null)
    {
        _stream = stream;
        _maxLineBytes = maxLineBytes;
        _arrival = arrival;
    }

    /// <summary>Reads events until the stream ends. Spec: "If the file ends in the middle of an event … the incomplete event is not dispatched."</summary>
    /// <exception cref="InvalidDataException">A line is longer than the cap.</exception>
    public async IAsyncEnumerable<SseEvent> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var line = ArrayPool<byte>.Shared.Rent(4096);
        byte[]? data = null;
        var start = 0;      // first unprocessed byte
        var end = 0;        // end of valid bytes
        var searched = 0;   // bytes before this index hold no newline
        var eof = false;
        var drained = false; // the last read returned less than asked: the stream holds nothing more until bytes arrive
        var bomChecked = false;
        var dataLength = 0;
        var hasData = false;
        string? eventType = null;
        string? lastEventId = null;
        try
        {
            while (true)
            {
                if (!bomChecked && (end - start >= 3 || eof))
                {
                    // Spec: "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present."
                    if (line.AsSpan(start, end - start).StartsWith("\uFEFF"u8))
                    {
                        start += 3;
                        searched = start;
                    }

                    bomChecked = true;
                }

                var index = bomChecked ? line.AsSpan(searched, end - searched).IndexOfAny(CR, LF) : -1;
                if (index >= 0)
                {
                    index += searched;
                    if (index - start > _maxLineBytes)
                    {
                        // A whole long line can arrive in one read into a buffer bigger than the cap: check the line, not the buffer.
                        throw LineTooLong();
                    }

                    if (line[index] == CR && index + 1 == end && !eof)
                    {
                        // A CR at the end of what we have may be the first half of a CRLF: read on before deciding.
                        searched = index;
                    }
                    else
                    {
                        var lineSpan = line.AsSpan(start, index - start);
                        start = index + (line[index] == CR && index + 1 < end && line[index + 1] == LF ? 2 : 1);
                        searched = start;
                        if (lineSpan.IsEmpty)
                        {
                            // Spec: an empty line dispatches the event, if any data line was seen.
                            if (hasData)
                            {
                                var length = dataLength - 1; // drop the LF after the last data line
                                yield return new SseEvent(eventType ?? DefaultEventType, data.AsMemory(0, length), lastEventId);
                            }

                            dataLength = 0;
                            hasData = false;
                            eventType = null;
                        }
                        else if (lineSpan[0] != (byte)':')
                        {
                            ProcessField(lineSpan, ref data, ref dataLength, ref hasData, ref eventType, ref lastEventId);
                        }

                        continue;
                    }
                }
                else if (bomChecked)
                {
                    searched = end;
                    if (end - start > _maxLineBytes)
                    {
                        throw LineTooLong();
                    }
                }

                if (eof)
                {
                    yield break;
                }

                if (start > 0)
                {
                    line.AsSpan(start, end - start).CopyTo(line);
                    end -= start;
                    searched -= start;
                    start = 0;
                }

                if (end == line.Length)
                {
                    // The checks above keep the pending line within the cap, so the buffer never needs more than
                    // the cap plus a CRLF. (The old check compared the pooled buffer's size, which the pool rounds up
                    // to a power of two and at least 4096, so short caps were not enforced and a line of exactly
                    // the cap was refused.)
                    byte[]? grown = line;
                    PooledBuffer.Grow(ref grown, end, Math.Min(line.Length * 2, _maxLineBytes + 2));
                    line = grown;
                }

                // Wait for data without a buffer first: HttpClient's response stream then fills its own buffer without
                // suspending, which saves an async state machine (an allocation) per token on HTTP/1.1 bodies.
                int read;
                var wanted = line.Length - end;
                try
                {
                    // Reads served from buffers never look at the token: an upstream writing flat out would outrun a cancel.
                    cancellationToken.ThrowIfCancellationRequested();
                    if (drained && _arrival is not null && _arrival.TryWaitForBytes(cancellationToken, out var arrival))
                    {
                        try
                        {
                            await arrival.ConfigureAwait(false);
                        }
                        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
                        {
                            // The read below reports what broke, in the stream's own terms.
                        }
                    }
                    else
                    {
                        await _stream.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                    }

                    read = await _stream.ReadAsync(line.AsMemory(end), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_arrival is not null)
                {
                    _arrival.Abandon();
                    throw;
                }

                drained = read > 0 && read < wanted;
                if (read == 0)
                {
                    eof = true;
                }

                end += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(line);
            if (data is not null)
            {
                ArrayPool<byte>.Shared.Return(data);
            }
        }
    }

    private InvalidDataException LineTooLong() => new($"server-sent event line longer than {_maxLineBytes} bytes");

    private void ProcessField(ReadOnlySpan<byte> lineSpan, ref byte[]? data, ref int dataLength, ref bool hasData, ref string? eventType, ref string? lastEventId)
    {
        var colon = lineSpan.IndexOf((byte)':');
        var name = colon < 0 ? lineSpan : lineSpan[..colon];
        var value = colon < 0 ? [] : lineSpan[(colon + 1)..];
        if (!value.IsEmpty && value[0] == (byte)' ')
        {
            value = value[1..];
        }

        if (name.SequenceEqual("data"u8))
        {
            var needed = dataLength + value.Length + 1;
            if (needed > _maxLineBytes * 4)
            {
                throw new InvalidDataException($"server-sent event data longer than {_maxLineBytes * 4} bytes");
            }

            if (data is null || needed > data.Length)
            {
                PooledBuffer.Grow(ref data, dataLength, Math.Max(needed, Math.Max(1024, dataLength * 2)));
            }

            value.CopyTo(data.AsSpan(dataLength));
            dataLength += value.Length;
            data[dataLength++] = LF;
            hasData = true;
        }
        else if (name.SequenceEqual("event"u8))
        {
            // Spec: the type is set only "if the event type buffer has a value other than the empty string": "event:" means "message".
            eventType = value.IsEmpty || value.SequenceEqual("message"u8) ? null : Encoding.UTF8.GetString(value);
        }
        else if (name.SequenceEqual("id"u8) && value.IndexOf((byte)0) < 0)
        {
            lastEventId = value.IsEmpty ? null : Encoding.UTF8.GetString(value);
        }

        // "retry" and unknown fields are ignored: we never reconnect a paid request on our own.
    }
}
