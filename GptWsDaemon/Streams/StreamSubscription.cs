using GptWsDaemon.Protocol;
using GptWsDaemon.Server;

namespace GptWsDaemon.Streams;

/// <summary>
/// One connection reading one resumable stream under its own seq (protocol.md §4.5): frames from the log, rendered for
/// that seq, until the final frame, a later resumer taking over, or the connection leaving (which only detaches).
/// </summary>
public sealed class StreamSubscription : IStreamSlot
{
    private readonly IStreamReader _reader;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _released;
    private int _ended;

    /// <summary>Creates a subscription of <paramref name="reader"/> under <paramref name="seq"/>; <see cref="Source"/> is set when it attaches.</summary>
    public StreamSubscription(IStreamReader reader, RequestSeq seq, long receivedAt)
    {
        _reader = reader;
        Seq = seq;
        ReceivedAt = receivedAt;
    }

    /// <inheritdoc/>
    public RequestSeq Seq { get; }

    /// <summary>When the request or resume that made it arrived (for the consume_time of frames it makes itself).</summary>
    public long ReceivedAt { get; }

    /// <summary>Whom it reads from; null until attached.</summary>
    public IResumeSource? Source { get; set; }

    /// <summary>The highest n delivered.</summary>
    public long LastN { get; private set; }

    /// <summary>Unique per subscription: tells a takeover on another instance which reader it leaves alone.</summary>
    public string Token { get; } = StreamIds.New();

    /// <inheritdoc/>
    public Task Completion => _done.Task;

    /// <inheritdoc/>
    public bool HoldsDaemonSlot => false;

    /// <summary>The reader has every frame up to <paramref name="after"/>: none of them is sent again.</summary>
    public void StartAfter(long after) => LastN = Math.Max(LastN, after);

    /// <inheritdoc/>
    public bool TryMarkReleased() => Interlocked.Exchange(ref _released, 1) == 0;

    /// <inheritdoc/>
    public void Cancel(StreamEndReason reason)
    {
        if (reason == StreamEndReason.ConnectionLost)
        {
            Source?.Detach(this); // the stream goes on for a resumer
            End();
        }
        else if (Source is { } source)
        {
            source.Cancel(reason); // its final frame comes through Deliver
        }
        else
        {
            End();
        }
    }

    /// <summary>Sends one frame (a replayed one when <paramref name="replay"/>); the final one ends the subscription.</summary>
    public void Deliver(LogFrame frame, bool replay)
    {
        if (Volatile.Read(ref _ended) != 0 || frame.N <= LastN)
        {
            return; // never twice, never after the end
        }

        LastN = frame.N;
        if (frame.Final)
        {
            _reader.Release(this); // a client may reuse the seq the moment it reads the final frame
        }

        if (replay)
        {
            _reader.SendReplay(frame.RenderFor(Seq));
        }
        else
        {
            _reader.Send(frame.RenderFor(Seq));
        }

        if (frame.Final)
        {
            End();
        }
    }

    /// <summary>Ends it with a frame of its own that is not in the log (a takeover, a lost log): code, message, finish.</summary>
    public void EndWith(OutgoingFrame frame)
    {
        if (Volatile.Read(ref _ended) != 0)
        {
            frame.Release();
            return;
        }

        _reader.Release(this);
        _reader.Send(frame);
        End();
    }

    /// <summary>Nothing more comes to this connection.</summary>
    public void End()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            _done.TrySetResult();
            _reader.Ended(this);
        }
    }
}
