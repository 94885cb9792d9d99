namespace GptWsDaemon.Server;

/// <summary>The daemon-wide count of streams in flight, capped at limits.max_streams.</summary>
public sealed class StreamBudget
{
    private readonly int _max;
    private int _used;

    /// <summary>Creates a budget of <paramref name="max"/> streams.</summary>
    public StreamBudget(int max) => _max = max;

    /// <summary>Streams in flight.</summary>
    public int Used => Volatile.Read(ref _used);

    /// <summary>Takes one stream slot; false at capacity.</summary>
    public bool TryAcquire()
    {
        if (Interlocked.Increment(ref _used) <= _max)
        {
            return true;
        }

        Interlocked.Decrement(ref _used);
        return false;
    }

    /// <summary>Gives a slot back.</summary>
    public void Release() => Interlocked.Decrement(ref _used);
}
