using Prometheus;

namespace GptWsDaemon.Observability;

/// <summary>The daemon's Prometheus metrics, in a registry of its own (so several daemons can live in one test process).</summary>
public sealed class DaemonMetrics
{
    private readonly Gauge _connections;
    private readonly Gauge _streams;
    private readonly Counter _requests;
    private readonly Counter.Child _succeeded; // code 0, looked up once: every stream ends with one
    private readonly Counter _tokens;
    private readonly Counter _retries;
    private readonly Counter _rejected;
    private readonly Histogram _ttft;
    private readonly Histogram _duration;
    private readonly Counter _suppressed;
    private readonly Histogram.Child[] _hold; // by SegmentMode, looked up once: observed for every sentence-mode piece
    private readonly Counter _dropped;
    private readonly Counter _providerRequests;
    private readonly Counter _failovers;
    private readonly Counter _benched;
    private readonly Counter _quotaRejections;
    private readonly Counter _clientTokens;
    private readonly Counter _quotaStoreErrors;
    private readonly Counter _resumes;
    private readonly Counter _expired;
    private readonly Gauge _logBytes;
    private readonly Counter _redisWrites;
    private readonly Counter _redisFrames;
    private readonly Counter _resumeStoreErrors;

    /// <summary>Creates the metrics.</summary>
    public DaemonMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _connections = factory.CreateGauge("gptws_connections", "Open WebSocket connections.");
        _streams = factory.CreateGauge("gptws_streams", "Streams in flight.");
        _requests = factory.CreateCounter("gptws_requests_total", "Finished requests by result code (0 = success).", new CounterConfiguration { LabelNames = ["code"] });
        _succeeded = _requests.WithLabels("0");
        _tokens = factory.CreateCounter("gptws_tokens_relayed_total", "Upstream text deltas relayed to clients.");
        _retries = factory.CreateCounter("gptws_upstream_retries_total", "Upstream attempts retried before the first token.");
        _rejected = factory.CreateCounter("gptws_connections_rejected_total", "Handshakes refused, by reason.", new CounterConfiguration { LabelNames = ["reason"] });
        _suppressed = factory.CreateCounter("gptws_log_lines_suppressed_total", "Log lines about client refusals left out by the rate limit.");
        _dropped = factory.CreateCounter("gptws_connections_dropped_total", "Connections the daemon closed on a client's misbehaviour, by reason.", new CounterConfiguration { LabelNames = ["reason"] });
        _providerRequests = factory.CreateCounter("gptws_provider_requests_total", "Requests sent to a provider (every attempt), by provider.", new CounterConfiguration { LabelNames = ["provider"] });
        _failovers = factory.CreateCounter("gptws_provider_failovers_total", "Requests handed from a provider to the next of their route before the first token, by the provider left.", new CounterConfiguration { LabelNames = ["provider"] });
        _benched = factory.CreateCounter("gptws_provider_keys_benched_total", "Keys benched after a 401/403 (refused) or 429 (rate_limited), by provider.", new CounterConfiguration { LabelNames = ["provider", "reason"] });
        _quotaRejections = factory.CreateCounter("gptws_quota_rejections_total", "Requests refused by a quota (1009), by client and limit.", new CounterConfiguration { LabelNames = ["client", "limit"] });
        _clientTokens = factory.CreateCounter("gptws_client_tokens_total", "Tokens charged to clients, by client and kind (prompt, completion).", new CounterConfiguration { LabelNames = ["client", "kind"] });
        _quotaStoreErrors = factory.CreateCounter("gptws_quota_store_errors_total", "Quota store calls that failed (Redis unreachable, say).");
        _resumes = factory.CreateCounter("gptws_resumes_total", "Resume requests, by outcome (resumed, not_found).", new CounterConfiguration { LabelNames = ["outcome"] });
        _expired = factory.CreateCounter("gptws_resumable_expired_total", "Resumable streams aborted because nobody resumed them within resume.hold_seconds.");
        _logBytes = factory.CreateGauge("gptws_resume_log_bytes", "Bytes the in-memory logs of resumable streams hold.");
        _redisWrites = factory.CreateCounter("gptws_resume_redis_writes_total", "Round trips that wrote resumable-stream frames to Redis (each carries one or more frames).");
        _redisFrames = factory.CreateCounter("gptws_resume_redis_frames_total", "Resumable-stream frames written to Redis.");
        _resumeStoreErrors = factory.CreateCounter("gptws_resume_store_errors_total", "Redis calls of the resume log that failed.");
        var hold = factory.CreateHistogram("gptws_segment_hold_seconds", "Sentence mode: from the arrival of a piece's first character to its release.", new HistogramConfiguration
        {
            LabelNames = ["mode"],
            Buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
        });
        _hold = [.. Enum.GetValues<GptWsDaemon.Text.SegmentMode>().Select(m => hold.WithLabels(m.ToString().ToLowerInvariant()))];
        var buckets = new[] { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
        _ttft = factory.CreateHistogram("gptws_upstream_ttft_seconds", "Upstream time to first token.", new HistogramConfiguration { Buckets = buckets });
        _duration = factory.CreateHistogram("gptws_upstream_duration_seconds", "Whole stream duration.", new HistogramConfiguration { Buckets = buckets });

        // The runtime's own figures, read at each scrape: what a latency spike usually comes down to in a .NET process.
        var allocated = factory.CreateCounter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since the process started.");
        var paused = factory.CreateCounter("dotnet_gc_pause_seconds_total", "Time the runtime held managed threads paused for garbage collection.");
        var collections = factory.CreateCounter("dotnet_collection_count_total", "Garbage collections by generation (a gen2 collection also counts as gen1 and gen0).", new CounterConfiguration { LabelNames = ["generation"] });
        var byGeneration = new[] { collections.WithLabels("0"), collections.WithLabels("1"), collections.WithLabels("2") };
        Registry.AddBeforeCollectCallback(() =>
        {
            allocated.IncTo(GC.GetTotalAllocatedBytes());
            paused.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
            for (var generation = 0; generation < byGeneration.Length; generation++)
            {
                byGeneration[generation].IncTo(GC.CollectionCount(generation));
            }
        });
    }

    /// <summary>The registry /metrics serializes.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Open connections now.</summary>
    public int Connections => (int)_connections.Value;

    /// <summary>Streams in flight now.</summary>
    public int Streams => (int)_streams.Value;

    /// <summary>A resume request ended with <paramref name="outcome"/> (resumed, not_found).</summary>
    public void CountResume(string outcome) => _resumes.WithLabels(outcome).Inc();

    /// <summary>A resumable stream's hold ran out.</summary>
    public void CountHoldExpired() => _expired.Inc();

    /// <summary>Reads the memory logs' bytes at each scrape (not set per frame: a frame must not pay for a gauge).</summary>
    public void ObserveLogBytes(Func<long> bytes) => Registry.AddBeforeCollectCallback(() => _logBytes.Set(bytes()));

    /// <summary>One round trip wrote <paramref name="frames"/> frames to Redis.</summary>
    public void CountRedisWrite(int frames)
    {
        _redisWrites.Inc();
        _redisFrames.Inc(frames);
    }

    /// <summary>A Redis call of the resume log failed.</summary>
    public void CountResumeStoreError() => _resumeStoreErrors.Inc();

    /// <summary>A connection opened (+1) or closed (−1).</summary>
    public void AddConnection(int delta) => _connections.Inc(delta);

    /// <summary>A stream started (+1) or ended (−1).</summary>
    public void AddStream(int delta) => _streams.Inc(delta);

    /// <summary>Counts a finished request by its code.</summary>
    public void CountRequest(int code) => (code == 0 ? _succeeded : _requests.WithLabels(code.ToString(System.Globalization.CultureInfo.InvariantCulture))).Inc();

    /// <summary>Counts relayed deltas.</summary>
    public void CountTokens(int count) => _tokens.Inc(count);

    /// <summary>Counts one retry.</summary>
    public void CountRetry() => _retries.Inc();

    /// <summary>The counters of one provider (a configured name), looked up once: a label lookup per request allocates.</summary>
    public ProviderCounters ForProvider(string provider) => new(
        _providerRequests.WithLabels(provider), _failovers.WithLabels(provider), _benched.WithLabels(provider, "refused"), _benched.WithLabels(provider, "rate_limited"));

    /// <summary>Counts a request refused by <paramref name="limit"/> of <paramref name="client"/> (a configured name, or the address clients' label).</summary>
    public void CountQuotaRejection(string client, string limit) => _quotaRejections.WithLabels(client, limit).Inc();

    /// <summary>Counts tokens charged to <paramref name="client"/>.</summary>
    public void CountClientTokens(string client, long prompt, long completion)
    {
        _clientTokens.WithLabels(client, "prompt").Inc(prompt);
        _clientTokens.WithLabels(client, "completion").Inc(completion);
    }

    /// <summary>Counts a failed quota store call.</summary>
    public void CountQuotaStoreError() => _quotaStoreErrors.Inc();

    /// <summary>Counts a refused handshake.</summary>
    public void CountRejected(string reason) => _rejected.WithLabels(reason).Inc();

    /// <summary>Counts log lines left out by a <see cref="LogThrottle"/>.</summary>
    public void CountSuppressedLines(long count) => _suppressed.Inc(count);

    /// <summary>Counts a connection closed for a client's misbehaviour (message_timeout, pending_budget, …).</summary>
    public void CountDropped(string reason) => _dropped.WithLabels(reason).Inc();

    /// <summary>Records how long sentence mode held a piece.</summary>
    public void ObserveSegmentHold(GptWsDaemon.Text.SegmentMode mode, TimeSpan held) => _hold[(int)mode].Observe(held.TotalSeconds);

    /// <summary>Records an upstream TTFT.</summary>
    public void ObserveTimeToFirstToken(TimeSpan ttft) => _ttft.Observe(ttft.TotalSeconds);

    /// <summary>Records a stream's duration.</summary>
    public void ObserveDuration(TimeSpan duration) => _duration.Observe(duration.TotalSeconds);

    /// <summary>Writes the Prometheus text exposition format.</summary>
    public Task WriteAsync(Stream output, CancellationToken cancellationToken) => Registry.CollectAndExportAsTextAsync(output, cancellationToken);
}
