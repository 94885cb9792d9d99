using System.Buffers.Binary;

namespace GptWsDaemon.Streams;

/// <summary>
/// One memory log's frames, back to back in 8 KiB chunks from a pool the registry shares, each behind its length
/// (4 bytes): no object, no array slot per frame. A log lives seconds to minutes — long enough for per-frame objects
/// to be copied by the collector again and again (at 1,000 streams those made its pauses several times longer);
/// pooled chunks are allocated once, and reused. A frame longer than a chunk gets an array of its own.
/// </summary>
public sealed class LogBuffer
{
    /// <summary>The size of a chunk.</summary>
    public const int ChunkSize = 8192;
    private readonly ChunkPool _pool;
    private readonly List<(byte[] Bytes, int End)> _chunks = []; // oldest first; End: bytes used (records never straddle chunks)
    private List<byte[]?>? _big; // frames longer than a chunk; their record holds -(index + 1)
    private int _head; // where the oldest kept frame's record starts in _chunks[0]

    internal LogBuffer(ChunkPool pool) => _pool = pool;

    /// <summary>Frames kept.</summary>
    public int Count { get; private set; }

    /// <summary>Room for the next frame, of <paramref name="length"/> bytes, which the caller writes at once.</summary>
    public Memory<byte> Reserve(int length)
    {
        Count++;
        if (length + 4 > ChunkSize)
        {
            (_big ??= []).Add(new byte[length]);
            BinaryPrimitives.WriteInt32LittleEndian(Record(4).Span, -_big.Count);
            return _big[^1];
        }

        var record = Record(4 + length);
        BinaryPrimitives.WriteInt32LittleEndian(record.Span, length);
        return record[4..];
    }

    /// <summary>The frames kept, oldest first.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Frames()
    {
        var (chunk, at) = (0, _head);
        for (var i = 0; i < Count; i++)
        {
            var (frame, next) = Read(chunk, at);
            (chunk, at) = next;
            yield return frame;
        }
    }

    /// <summary>The length of the oldest frame kept.</summary>
    public int OldestLength => Read(0, _head).Frame.Length;

    /// <summary>Drops the oldest frame and gives back the chunk it was the last of.</summary>
    public void DropOldest()
    {
        if (BinaryPrimitives.ReadInt32LittleEndian(_chunks[0].Bytes.AsSpan(_head)) is < 0 and var big)
        {
            _big![-big - 1] = null;
        }

        var (_, (chunk, at)) = Read(0, _head);
        Count--;
        if (chunk > 0 || Count == 0 && _chunks.Count > 1)
        {
            _pool.Return(_chunks[0].Bytes);
            _chunks.RemoveAt(0);
            at = 0;
        }

        _head = at;
    }

    /// <summary>Gives every chunk back; the log must not be used afterwards.</summary>
    public void Clear()
    {
        foreach (var (bytes, _) in _chunks)
        {
            _pool.Return(bytes);
        }

        _chunks.Clear();
        _big = null;
        _head = 0;
        Count = 0;
    }

    private Memory<byte> Record(int length)
    {
        if (_chunks.Count == 0 || _chunks[^1].End + length > ChunkSize)
        {
            _chunks.Add((_pool.Rent(), 0));
        }

        var (bytes, end) = _chunks[^1];
        _chunks[^1] = (bytes, end + length);
        return bytes.AsMemory(end, length);
    }

    /// <summary>The frame whose record starts at <paramref name="at"/> in chunk <paramref name="chunk"/>, and where the next record starts.</summary>
    private (ReadOnlyMemory<byte> Frame, (int Chunk, int At) Next) Read(int chunk, int at)
    {
        var (bytes, end) = _chunks[chunk];
        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
        ReadOnlyMemory<byte> frame = length < 0 ? _big![-length - 1]! : bytes.AsMemory(at + 4, length);
        var next = at + 4 + Math.Max(0, length);
        return (frame, next >= end && chunk + 1 < _chunks.Count ? (chunk + 1, 0) : (chunk, next));
    }
}
