using System.Collections.Concurrent;

namespace GptWsDaemon.Streams;

/// <summary>Chunks for <see cref="LogBuffer"/>, shared by the registry's logs; at most <paramref name="keep"/> idle ones are kept.</summary>
internal sealed class ChunkPool(int keep)
{
    private readonly ConcurrentBag<byte[]> _idle = [];

    public byte[] Rent() => _idle.TryTake(out var chunk) ? chunk : new byte[LogBuffer.ChunkSize];

    public void Return(byte[] chunk)
    {
        if (_idle.Count < keep)
        {
            _idle.Add(chunk);
        }
    }
}
