namespace GptWsDaemon.Quotas;

/// <summary>
/// Where the quota counters live: this process (<see cref="MemoryQuotaStore"/>) or Redis, shared by every instance
/// (<see cref="RedisQuotaStore"/>). One call per request to admit it and one to settle it — never one per token.
/// </summary>
public interface IQuotaStore
{
    /// <summary>"memory" or "redis".</summary>
    string Name { get; }

    /// <summary>Checks <paramref name="limits"/> and, when the request may go, counts it (minute window, running streams) at once.</summary>
    ValueTask<Admission> AdmitAsync(string client, QuotaLimits limits, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The request ended: one stream less running, <paramref name="tokens"/> charged to the day.</summary>
    ValueTask SettleAsync(string client, bool admitted, long tokens, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The counters of <paramref name="client"/> now.</summary>
    ValueTask<ClientCounters> ReadAsync(string client, DateTimeOffset now, CancellationToken cancellationToken);
}
