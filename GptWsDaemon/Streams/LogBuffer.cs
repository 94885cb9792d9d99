using System.Buffers;

namespace GptWsDaemon.Streams;

/// <summary>
/// One memory log: its frames' bytes written one after another into 8 KiB chunks from a pool the registry shares, and
/// the frames (views into them) in a pooled array. A log lives seconds to minutes — long enough for objects of its
/// own per frame to be copied by the collector again and again (at 1,000 streams that made its pauses several times
/// longer); pooled chunks and arrays are allocated once, and reused.
/// </summary>
public sealed class LogBuffer
{
    /// <summary>The size of a chunk; a frame larger than this gets an array of its own.</summary>
    public const int ChunkSize = 8192;
    private readonly ChunkPool _pool;
    private readonly List<byte[]> _chunks = [];
    private int _used = ChunkSize; // in the last chunk
    private LogFrame[] _frames = ArrayPool<LogFrame>.Shared.Rent(64);

    internal LogBuffer(ChunkPool pool) => _pool = pool;

    /// <summary>Frames kept.</summary>
    public int Count { get; private set; }

    /// <summary>The <paramref name="index"/>th frame kept, oldest first.</summary>
    public LogFrame this[int index] => _frames[index];

    /// <summary>Keeps <paramref name="frame"/> (its bytes reserved here) after the others.</summary>
    public void Add(LogFrame frame)
    {
        if (Count == _frames.Length)
        {
            var bigger = ArrayPool<LogFrame>.Shared.Rent(Count * 2);
            _frames.AsSpan(0, Count).CopyTo(bigger);
            ArrayPool<LogFrame>.Shared.Return(_frames, clearArray: true);
            _frames = bigger;
        }

        _frames[Count++] = frame;
    }

    /// <summary>Drops the <paramref name="count"/> oldest frames (never all) and gives back the chunks only they used.</summary>
    public void DropOldest(int count)
    {
        _frames.AsSpan(count, Count - count).CopyTo(_frames);
        _frames.AsSpan(Count - count, count).Clear();
        Count -= count;
        ReleaseBefore(_frames[0].Bytes);
    }

    /// <summary>Room for a frame of <paramref name="length"/> bytes.</summary>
    public Memory<byte> Reserve(int length)
    {
        if (length > ChunkSize)
        {
            return new byte[length];
        }

        if (_used + length > ChunkSize)
        {
            _chunks.Add(_pool.Rent());
            _used = 0;
        }

        var memory = _chunks[^1].AsMemory(_used, length);
        _used += length;
        return memory;
    }

    /// <summary>Gives back the chunks before the one <paramref name="oldest"/> (the oldest frame still kept) lies in.</summary>
    internal void ReleaseBefore(ReadOnlyMemory<byte> oldest)
    {
        var keep = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(oldest, out var segment) ? _chunks.IndexOf(segment.Array!) : -1;
        for (var i = 0; i < keep; i++)
        {
            _pool.Return(_chunks[i]);
        }

        if (keep > 0)
        {
            _chunks.RemoveRange(0, keep);
        }
    }

    /// <summary>Gives every chunk and the frames' array back; the log must not be used afterwards.</summary>
    public void Clear()
    {
        ArrayPool<LogFrame>.Shared.Return(_frames, clearArray: true);
        _frames = [];
        Count = 0;
        foreach (var chunk in _chunks)
        {
            _pool.Return(chunk);
        }

        _chunks.Clear();
        _used = ChunkSize;
    }
}
