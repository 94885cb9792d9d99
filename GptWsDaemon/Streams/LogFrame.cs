using System.Buffers;
using System.Text;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Streams;

/// <summary>
/// One frame of a resumable stream as its log keeps it: the reply frame's JSON with <c>"seq":null</c> (each reader
/// gets its own seq spliced in) and <c>data.n</c> (and, on the first, <c>data.stream_id</c>) added. A view: the bytes
/// live in the log's chunks (or in what Redis sent back), so a frame is no object of its own.
/// </summary>
public readonly struct LogFrame
{
    private static readonly byte[] SeqNull = "\"seq\":null"u8.ToArray();
    private readonly int _seqAt; // where "null" starts

    /// <summary>Wraps a frame already in log form (read back from Redis, say).</summary>
    public LogFrame(ReadOnlyMemory<byte> bytes, long n, bool final)
    {
        Bytes = bytes;
        N = n;
        Final = final;
        // The first "seq": of a frame is its own: code and msg come before it, and a quote inside msg is escaped.
        _seqAt = bytes.Span.IndexOf(SeqNull) is var at and >= 0 ? at + 6 : throw new FormatException("log frame without \"seq\":null");
    }

    // Stamp wrote the null itself: no search for it on every frame.
    private LogFrame(ReadOnlyMemory<byte> bytes, long n, bool final, int seqAt)
    {
        Bytes = bytes;
        N = n;
        Final = final;
        _seqAt = seqAt;
    }

    /// <summary>The frame in log form.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>Its <c>data.n</c>: 1, 2, 3 … with no gap.</summary>
    public long N { get; }

    /// <summary>True for the stream's one final frame.</summary>
    public bool Final { get; }

    /// <summary>
    /// The log form of <paramref name="frame"/> (released here), sent with a seq of <paramref name="seqLength"/> bytes,
    /// written into <paramref name="into"/>: the seq becomes null, <c>"n":N,</c> (and <c>"stream_id":"…",</c>) go
    /// first in <c>data</c>.
    /// </summary>
    public static LogFrame Stamp(OutgoingFrame frame, int seqLength, long n, string? streamId, bool final, LogBuffer into)
    {
        try
        {
            var json = frame.Memory.Span;
            var seqAt = json.IndexOf("\"seq\":"u8) + 6;
            var dataAt = json.IndexOf("\"data\":{"u8) + 8; // after the seq, whose quotes are escaped when it is a string
            Span<byte> mark = stackalloc byte[160];
            var m = Mark(mark, n, streamId);
            var memory = into.Reserve(json.Length - seqLength + 4 + m);
            var bytes = memory.Span;
            var w = 0;
            w += Copy(json[..seqAt], bytes, w);
            w += Copy("null"u8, bytes, w);
            w += Copy(json[(seqAt + seqLength)..dataAt], bytes, w);
            w += Copy(mark[..m], bytes, w);
            Copy(json[dataAt..], bytes, w);
            return new LogFrame(memory, n, final, seqAt);
        }
        finally
        {
            frame.Release();
        }
    }

    /// <summary>The frame for a reader whose seq is <paramref name="seq"/>, in a rented buffer.</summary>
    public OutgoingFrame RenderFor(RequestSeq seq)
    {
        var bytes = Bytes.Span;
        var length = bytes.Length - 4 + seq.Json.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        var w = Copy(bytes[.._seqAt], rented, 0);
        w += Copy(seq.Json, rented, w);
        Copy(bytes[(_seqAt + 4)..], rented, w);
        return new OutgoingFrame(rented, length);
    }

    private static int Mark(Span<byte> mark, long n, string? streamId)
    {
        var w = Copy("\"n\":"u8, mark, 0);
        n.TryFormat(mark[w..], out var digits, default, System.Globalization.CultureInfo.InvariantCulture);
        w += digits;
        mark[w++] = (byte)',';
        if (streamId is not null)
        {
            w += Copy("\"stream_id\":\""u8, mark, w);
            w += Encoding.ASCII.GetBytes(streamId, mark[w..]); // StreamIds are ASCII letters, digits, - and _
            w += Copy("\","u8, mark, w);
        }

        return w;
    }

    private static int Copy(ReadOnlySpan<byte> from, Span<byte> to, int at)
    {
        from.CopyTo(to[at..]);
        return from.Length;
    }
}
