namespace GptWsDaemon.Server;

/// <summary>
/// A daemon-wide cap on something taken and given back: the streams in flight (<c>limits.max_streams</c>), or the bytes
/// unfinished incoming messages hold (<c>limits.pending_message_bytes</c>, reserved before a buffer is taken, so past
/// the cap the memory is never allocated). A take over the cap is refused and leaves nothing taken.
/// </summary>
public sealed class Budget
{
    private readonly long _max;
    private long _used;

    /// <summary>Creates a budget of <paramref name="max"/> units.</summary>
    public Budget(long max) => _max = max;

    /// <summary>Units taken now.</summary>
    public long Used => Interlocked.Read(ref _used);

    /// <summary>Takes <paramref name="units"/>; false (and nothing taken) when that would exceed the cap.</summary>
    public bool TryTake(long units = 1)
    {
        if (Interlocked.Add(ref _used, units) <= _max)
        {
            return true;
        }

        Interlocked.Add(ref _used, -units);
        return false;
    }

    /// <summary>Gives <paramref name="units"/> back.</summary>
    public void Give(long units = 1) => Interlocked.Add(ref _used, -units);
}
