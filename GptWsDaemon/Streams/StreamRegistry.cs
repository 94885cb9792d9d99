using System.Collections.Concurrent;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Server;
using NLog;

namespace GptWsDaemon.Streams;

/// <summary>
/// The daemon's resumable streams by id (protocol.md §4.5): opens them, finds them for a resume (here, or through the
/// store on another instance), forgets them once their log's time is up, and cancels them all at shutdown.
/// </summary>
public sealed class StreamRegistry
{
    internal static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Streams");
    internal const string NotFound = "stream not found or expired";
    private readonly ConcurrentDictionary<string, StreamLog> _streams = new(StringComparer.Ordinal);
    private readonly DaemonMetrics _metrics;
    private readonly IStreamStore? _store;
    private readonly ConcurrentQueue<(long EndedAt, StreamLog Stream)> _kept = new(); // ended, oldest first: keep is one length for all
    private readonly ITimer _sweep;
    private long _totalBytes;

    /// <summary>Creates the registry; <paramref name="store"/> (Redis) shares logs with other instances, null keeps them here.</summary>
    internal StreamRegistry(ResumeSettings settings, DaemonMetrics metrics, IStreamStore? store = null, TimeProvider? time = null)
    {
        Settings = settings;
        _metrics = metrics;
        _store = store;
        metrics.ObserveLogBytes(() => TotalBytes);
        Time = time ?? TimeProvider.System;
        Chunks = new ChunkPool((int)(settings.MaxTotalBytes / LogBuffer.ChunkSize)); // idle chunks kept: at most what the logs may hold
        store?.Bind(this);
        // One sweep for every kept log, not a timer each (at 1,000 streams 400 new timers a second).
        var period = TimeSpan.FromMilliseconds(Math.Clamp(settings.Keep.TotalMilliseconds / 4, 50, 1000));
        _sweep = Time.CreateTimer(static r => ((StreamRegistry)r!).Sweep(), this, period, period);
    }

    /// <summary>The chunks every memory log writes into.</summary>
    internal ChunkPool Chunks { get; }

    /// <summary>The <c>[resume]</c> settings.</summary>
    public ResumeSettings Settings { get; }

    /// <summary>The clock of holds and keeps.</summary>
    public TimeProvider Time { get; }

    /// <summary>Streams known here (running, or ended and kept).</summary>
    public int Count => _streams.Count;

    /// <summary>Bytes every memory log holds together.</summary>
    public long TotalBytes => Interlocked.Read(ref _totalBytes);

    /// <summary>The frame a replaced reader ends with.</summary>
    internal static OutgoingFrame Superseded(StreamSubscription reader) => ReplyFrames.Detached(reader.Seq, reader.ReceivedAt);

    /// <summary>A new resumable stream owned by <paramref name="owner"/>; <paramref name="giveSlot"/> runs once when it ends.</summary>
    /// <exception cref="StoreUnavailableException">Redis is down and resume.on_store_error = fail.</exception>
    internal StreamLog Open(string? owner, long connectionId, RequestSeq seq, Action giveSlot)
    {
        var id = StreamIds.New();
        var writer = _store?.OpenWriter(id, owner);
        var stream = new StreamLog(this, id, owner, connectionId, seq.Json.Length, giveSlot, writer);
        _streams[id] = stream;
        return stream;
    }

    /// <summary>Attaches <paramref name="subscription"/> to stream <paramref name="id"/> after frame <paramref name="after"/>; the refusal (1008) text, or null.</summary>
    internal async Task<string?> ResumeAsync(StreamSubscription subscription, string id, long after, string? owner)
    {
        string? refusal;
        if (_streams.TryGetValue(id, out var stream))
        {
            // Another client's stream is not found, not forbidden: its existence is not told.
            refusal = stream.Owner != owner ? NotFound : stream.Attach(subscription, after);
            if (refusal is null)
            {
                _store?.PublishTakeover(id, subscription.Token);
            }
        }
        else
        {
            refusal = _store is null ? NotFound : await _store.ResumeAsync(subscription, id, after, owner).ConfigureAwait(false);
        }

        _metrics.CountResume(refusal is null ? "resumed" : "not_found");
        return refusal;
    }

    /// <summary>Another instance's resumer took stream <paramref name="id"/> over (pub/sub).</summary>
    internal void TakenOver(string id, string token)
    {
        if (_streams.TryGetValue(id, out var stream))
        {
            stream.TakenOver(token);
        }
    }

    /// <summary>A reader on another instance cancelled stream <paramref name="id"/> (pub/sub).</summary>
    internal void CancelledElsewhere(string id)
    {
        if (_streams.TryGetValue(id, out var stream))
        {
            stream.Cancel(StreamEndReason.ClientCancel);
        }
    }

    /// <summary>Cancels every running stream (shutdown: each ends its log with a final frame) and waits for them, bounded.</summary>
    public async Task StopAsync(TimeSpan limit)
    {
        var running = _streams.Values.Where(s => !s.Ended).ToList();
        foreach (var s in running)
        {
            s.Cancel(StreamEndReason.Shutdown);
        }

        var deadline = Time.GetTimestamp() + (long)(limit.TotalSeconds * Time.TimestampFrequency);
        while (running.Any(s => !s.Ended) && Time.GetTimestamp() < deadline)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        if (_store is not null)
        {
            await _store.FlushAsync(limit).ConfigureAwait(false);
        }

        await _sweep.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Tracks the memory logs' bytes; the new total.</summary>
    internal long AddBytes(long delta) => Interlocked.Add(ref _totalBytes, delta); // the gauge reads it at a scrape

    /// <summary>Every log together is over resume.max_total_bytes: the oldest ended streams are forgotten first (then 1008).</summary>
    internal void EvictEnded() => ForgetKept(long.MaxValue);

    internal void CountExpired() => _metrics.CountHoldExpired();

    /// <summary>
    /// A stream's session ended: an expired one is forgotten now, a finished one after resume.keep_seconds — or now too
    /// when its log is in Redis, which serves its keep: a thousand ended logs held here would only feed the collector.
    /// </summary>
    internal void Ended(StreamLog stream, bool expired)
    {
        if (expired || stream.Remote is not null)
        {
            Forget(stream);
            return;
        }

        _kept.Enqueue((Time.GetTimestamp(), stream));
        if (TotalBytes > Settings.MaxTotalBytes)
        {
            // Over the total since another log's append evicted what was ended then: this one was not ended yet.
            EvictEnded();
        }
    }

    private void Sweep() => ForgetKept(Time.GetTimestamp() - (long)(Settings.Keep.TotalSeconds * Time.TimestampFrequency));

    /// <summary>
    /// Forgets ended logs, oldest first (the queue is in the order they ended), that ended by <paramref name="endedBy"/>;
    /// with <see cref="long.MaxValue"/>, while every log together is over resume.max_total_bytes.
    /// </summary>
    private void ForgetKept(long endedBy)
    {
        var overOnly = endedBy == long.MaxValue;
        while ((!overOnly || TotalBytes > Settings.MaxTotalBytes) && _kept.TryPeek(out var oldest) && oldest.EndedAt <= endedBy && _kept.TryDequeue(out oldest))
        {
            Forget(oldest.Stream);
        }
    }

    private void Forget(StreamLog stream)
    {
        if (_streams.TryRemove(new KeyValuePair<string, StreamLog>(stream.StreamId, stream)))
        {
            AddBytes(-stream.Dispose());
        }
    }
}
