using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Server;

/// <summary>
/// The streams of one connection (protocol.md §7.1): busy seqs, running sessions, the per-connection and daemon-wide
/// slots. A seq and its slots are given back once, when the final frame goes out; a session leaves the running set
/// when its task ends.
/// </summary>
internal sealed class ConnectionStreams(DaemonSettings settings, Budget budget, DaemonMetrics metrics)
{
    private readonly Dictionary<string, StreamSession> _bySeq = new(StringComparer.Ordinal);
    private readonly HashSet<StreamSession> _running = [];
    private readonly Lock _lock = new();

    /// <summary>Sessions whose task has not ended.</summary>
    public int Running
    {
        get
        {
            lock (_lock)
            {
                return _running.Count;
            }
        }
    }

    /// <summary>Registers a new session for <paramref name="request"/>, or says why not (code, message).</summary>
    public (int Code, string Message)? TryAdd(ChatRequest request, bool closing, Func<StreamSession> create, out StreamSession? session)
    {
        session = null;
        lock (_lock)
        {
            if (closing)
            {
                return (ErrorCodes.AtCapacity, "daemon is shutting down; no new streams");
            }

            if (_bySeq.ContainsKey(request.Seq.Text))
            {
                return (ErrorCodes.DuplicateSeq, $"seq {request.Seq.Text} is already streaming on this connection");
            }

            if (_bySeq.Count >= settings.StreamsPerConnection)
            {
                return (ErrorCodes.AtCapacity, $"too many streams on this connection (limits.streams_per_connection = {settings.StreamsPerConnection})");
            }

            if (!budget.TryTake())
            {
                return (ErrorCodes.AtCapacity, $"daemon at capacity (limits.max_streams = {settings.MaxStreams}); retry later");
            }

            session = create();
            _bySeq[request.Seq.Text] = session;
            _running.Add(session);
        }

        metrics.AddStream(1);
        return null;
    }

    /// <summary>The session streaming <paramref name="seq"/>, or null.</summary>
    public StreamSession? Find(string seq)
    {
        lock (_lock)
        {
            return _bySeq.GetValueOrDefault(seq);
        }
    }

    /// <summary>Gives a session's seq, its per-connection slot and its daemon-wide slot back, once.</summary>
    public void Release(StreamSession session)
    {
        if (Interlocked.Exchange(ref session.Released, 1) != 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_bySeq.TryGetValue(session.Request.Seq.Text, out var current) && current == session)
            {
                _bySeq.Remove(session.Request.Seq.Text);
            }
        }

        budget.Give();
        metrics.AddStream(-1);
    }

    /// <summary>The session's task ended: it leaves the running set (its seq is released too, if it was not yet).</summary>
    public void Finished(StreamSession session)
    {
        Release(session);
        lock (_lock)
        {
            _running.Remove(session);
        }
    }

    /// <summary>Cancels every running session with <paramref name="reason"/>.</summary>
    public void CancelAll(StreamEndReason reason)
    {
        List<StreamSession> sessions;
        lock (_lock)
        {
            sessions = [.. _running];
        }

        foreach (var s in sessions)
        {
            s.Cancel(reason);
        }
    }

    /// <summary>Completes when no session is running.</summary>
    public async Task WaitAllAsync()
    {
        while (true)
        {
            Task[] tasks;
            lock (_lock)
            {
                tasks = [.. _running.Select(v => v.Completion)];
            }

            if (tasks.Length == 0)
            {
                return;
            }

            if (Array.TrueForAll(tasks, t => t.IsCompleted))
            {
                // A session just registered but its task is not published yet.
                await Task.Yield();
            }

            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
    }
}
