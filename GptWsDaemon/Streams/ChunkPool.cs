namespace GptWsDaemon.Streams;

/// <summary>Chunks for <see cref="LogBuffer"/>, shared by the registry's logs; at most <paramref name="keep"/> idle ones are kept.</summary>
/// <remarks>
/// A stack under a lock, not a ConcurrentBag: the bag's Count freezes every thread's list at once, and asking it on
/// every return (400 a second at 1,000 streams) stalled the relay; this lock is held for a push or a pop.
/// </remarks>
internal sealed class ChunkPool(int keep)
{
    private readonly Stack<byte[]> _idle = new();
    private readonly Lock _lock = new();

    public byte[] Rent()
    {
        lock (_lock)
        {
            if (_idle.TryPop(out var chunk))
            {
                return chunk;
            }
        }

        return new byte[LogBuffer.ChunkSize];
    }

    public void Return(byte[] chunk)
    {
        lock (_lock)
        {
            if (_idle.Count < keep)
            {
                _idle.Push(chunk);
            }
        }
    }
}
