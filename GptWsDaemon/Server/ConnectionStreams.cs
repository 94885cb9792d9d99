using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Server;

/// <summary>
/// The streams of one connection (protocol.md §7.1): busy seqs, running sessions and resumable-stream subscriptions,
/// the per-connection and daemon-wide slots. A seq and its slots are given back once, when the final frame goes out; a
/// stream leaves the running set when the connection has nothing more to wait for from it.
/// </summary>
internal sealed class ConnectionStreams(DaemonSettings settings, Budget budget, DaemonMetrics metrics)
{
    private readonly Dictionary<string, IStreamSlot> _bySeq = new(StringComparer.Ordinal);
    private readonly HashSet<IStreamSlot> _running = [];
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

    /// <summary>
    /// Registers a new stream under <paramref name="seq"/>, or says why not (code, message). A new upstream request
    /// (<paramref name="daemonSlot"/>) also takes a daemon-wide slot; a resume does not.
    /// </summary>
    public (int Code, string Message)? TryAdd<T>(RequestSeq seq, bool closing, bool daemonSlot, Func<T> create, out T? stream)
        where T : class, IStreamSlot
    {
        stream = null;
        lock (_lock)
        {
            if (closing)
            {
                return (ErrorCodes.AtCapacity, "daemon is shutting down; no new streams");
            }

            if (_bySeq.ContainsKey(seq.Text))
            {
                return (ErrorCodes.DuplicateSeq, $"seq {seq.Text} is already streaming on this connection");
            }

            if (_bySeq.Count >= settings.StreamsPerConnection)
            {
                return (ErrorCodes.AtCapacity, $"too many streams on this connection (limits.streams_per_connection = {settings.StreamsPerConnection})");
            }

            if (daemonSlot && !budget.TryTake())
            {
                return (ErrorCodes.AtCapacity, $"daemon at capacity (limits.max_streams = {settings.MaxStreams}); retry later");
            }

            stream = create();
            _bySeq[seq.Text] = stream;
            _running.Add(stream);
        }

        if (daemonSlot)
        {
            metrics.AddStream(1);
        }

        return null;
    }

    /// <summary>The stream under <paramref name="seq"/>, or null.</summary>
    public IStreamSlot? Find(string seq)
    {
        lock (_lock)
        {
            return _bySeq.GetValueOrDefault(seq);
        }
    }

    /// <summary>Gives a stream's seq, its per-connection slot and its daemon-wide slot (if it holds one) back, once.</summary>
    public void Release(IStreamSlot stream)
    {
        if (!stream.TryMarkReleased())
        {
            return;
        }

        lock (_lock)
        {
            if (_bySeq.TryGetValue(stream.Seq.Text, out var current) && current == stream)
            {
                _bySeq.Remove(stream.Seq.Text);
            }
        }

        if (stream.HoldsDaemonSlot)
        {
            GiveDaemonSlot();
        }
    }

    /// <summary>Gives back a daemon-wide slot taken by <see cref="TryAdd"/> (a resumable stream gives its own back when it ends).</summary>
    public void GiveDaemonSlot()
    {
        budget.Give();
        metrics.AddStream(-1);
    }

    /// <summary>The connection has nothing more to wait for from the stream: it leaves the running set (its seq is released too, if it was not yet).</summary>
    public void Finished(IStreamSlot stream)
    {
        Release(stream);
        lock (_lock)
        {
            _running.Remove(stream);
        }
    }

    /// <summary>Cancels every running session with <paramref name="reason"/>.</summary>
    public void CancelAll(StreamEndReason reason)
    {
        List<IStreamSlot> sessions;
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
