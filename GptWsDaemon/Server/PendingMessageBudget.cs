namespace GptWsDaemon.Server;

/// <summary>
/// The daemon-wide budget for bytes held by unfinished incoming messages (<c>limits.pending_message_bytes</c>). Each
/// connection reserves its message buffer here before taking it; a reservation over the budget is refused, so many
/// connections each holding a nearly complete large message cannot add up to more memory than the operator allowed.
/// </summary>
public sealed class PendingMessageBudget
{
    private readonly long _max;
    private long _used;

    /// <summary>Creates a budget of <paramref name="max"/> bytes.</summary>
    public PendingMessageBudget(long max) => _max = max;

    /// <summary>Bytes reserved now.</summary>
    public long Used => Interlocked.Read(ref _used);

    /// <summary>Reserves <paramref name="bytes"/>; false (and nothing reserved) when that would exceed the budget.</summary>
    public bool TryTake(long bytes)
    {
        if (Interlocked.Add(ref _used, bytes) <= _max)
        {
            return true;
        }

        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    /// <summary>Gives <paramref name="bytes"/> back.</summary>
    public void Give(long bytes) => Interlocked.Add(ref _used, -bytes);
}
