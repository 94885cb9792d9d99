using GptWsDaemon.Protocol;
using GptWsDaemon.Server;

namespace GptWsDaemon.Streams;

/// <summary>
/// A reader here of a stream another instance runs (protocol.md §4.5): its frames come from the stream's Redis log
/// through this instance's <see cref="RedisTailPump"/>; a cancel goes to the owner over pub/sub.
/// </summary>
internal sealed class RedisTail : IResumeSource
{
    private readonly RedisStreamStore _store;
    private int _ended;

    public RedisTail(RedisStreamStore store, string streamId, string instance, StreamSubscription subscription, long after)
    {
        _store = store;
        StreamId = streamId;
        Key = RedisKeys.Log(streamId).ToString();
        Instance = instance;
        Subscription = subscription;
        Position = after;
        subscription.StartAfter(after);
        LastProgress = Environment.TickCount64;
    }

    /// <summary>The stream followed.</summary>
    public string StreamId { get; }

    /// <summary>Its log's key, made once: the pump names it in every read.</summary>
    public string Key { get; }

    /// <summary>The instance that runs it.</summary>
    public string Instance { get; }

    /// <summary>The reader.</summary>
    public StreamSubscription Subscription { get; }

    /// <summary>The last n delivered: the pump reads after it.</summary>
    public long Position { get; private set; }

    /// <summary>When the last frame came (Environment.TickCount64).</summary>
    public long LastProgress { get; private set; }

    /// <summary>True once it stopped following.</summary>
    public bool IsEnded => Volatile.Read(ref _ended) != 0;

    /// <summary>Delivers a frame read from the log; the final one ends the tail.</summary>
    public void Deliver(LogFrame frame, bool replay)
    {
        if (IsEnded || frame.N <= Position)
        {
            return;
        }

        Position = frame.N;
        LastProgress = Environment.TickCount64;
        Subscription.Deliver(frame, replay);
        if (frame.Final)
        {
            Stop();
        }
    }

    /// <summary>Ends the reader with a frame of the daemon's own (a takeover, an owner that vanished).</summary>
    public void EndWith(OutgoingFrame frame)
    {
        if (Stop())
        {
            Subscription.EndWith(frame);
        }
        else
        {
            frame.Release();
        }
    }

    /// <inheritdoc/>
    public void Detach(StreamSubscription subscription) => Stop();

    /// <inheritdoc/>
    public void Cancel(StreamEndReason reason)
    {
        if (reason == StreamEndReason.Shutdown)
        {
            // This instance stops, the stream does not: the client resumes it elsewhere.
            Stop();
            Subscription.End();
            return;
        }

        _store.PublishCancel(StreamId); // the final frame comes back through the log
    }

    private bool Stop()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return false;
        }

        _store.Unfollow(this);
        return true;
    }
}
