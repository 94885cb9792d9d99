namespace GptWsDaemon.Streams;

/// <summary>
/// The bytes of one memory log: frames written one after another into 8 KiB chunks from a pool the registry shares.
/// A log's frames live seconds to minutes — long enough to be copied by the collector again and again as objects of
/// their own (at 1,000 streams that made its pauses several times longer); pooled chunks are allocated once, and kept.
/// </summary>
public sealed class LogChunks
{
    /// <summary>The size of a chunk; a frame larger than this gets an array of its own.</summary>
    public const int ChunkSize = 8192;
    private readonly ChunkPool _pool;
    private readonly List<byte[]> _chunks = [];
    private int _used = ChunkSize; // in the last chunk

    internal LogChunks(ChunkPool pool) => _pool = pool;

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
    public void ReleaseBefore(ReadOnlyMemory<byte> oldest)
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

    /// <summary>Gives every chunk back; the log's frames must not be read afterwards.</summary>
    public void Clear()
    {
        foreach (var chunk in _chunks)
        {
            _pool.Return(chunk);
        }

        _chunks.Clear();
        _used = ChunkSize;
    }
}
