using StackExchange.Redis;

namespace GptWsDaemon.Quotas;

/// <summary>
/// Quota counters in Redis, shared by every instance (protocol.md §2.3 "Quotas"): one Lua script checks every limit
/// and counts the request in one round trip, so a limit holds across instances with no race between them; one more
/// settles the request when it ends. Keys: <c>gptws:q:{CLIENT}:c</c> (the braces a hash tag) (running, expires after the longest stream),
/// <c>:m:{minute}</c> (2 min) and <c>:d:{day}</c> (2 days).
/// </summary>
public sealed class RedisQuotaStore : IQuotaStore, IAsyncDisposable
{
    private const string AdmitScript = """
        local c = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tonumber(ARGV[1]) >= 0 and c >= tonumber(ARGV[1]) then return 1 end
        local m = tonumber(redis.call('GET', KEYS[2]) or '0')
        if tonumber(ARGV[2]) >= 0 and m >= tonumber(ARGV[2]) then return 2 end
        local d = tonumber(redis.call('GET', KEYS[3]) or '0')
        if tonumber(ARGV[3]) >= 0 and d >= tonumber(ARGV[3]) then return 3 end
        redis.call('INCR', KEYS[1])
        redis.call('EXPIRE', KEYS[1], ARGV[4])
        redis.call('INCR', KEYS[2])
        redis.call('EXPIRE', KEYS[2], 120)
        return 0
        """;

    private const string SettleScript = """
        if ARGV[1] == '1' and tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
        if tonumber(ARGV[2]) > 0 then
          redis.call('INCRBY', KEYS[2], ARGV[2])
          redis.call('EXPIRE', KEYS[2], 172800)
        end
        return 0
        """;

    private readonly ConnectionMultiplexer _redis;
    private readonly int _runningTtl;

    private RedisQuotaStore(ConnectionMultiplexer redis, TimeSpan longestStream)
    {
        _redis = redis;
        _runningTtl = (int)longestStream.TotalSeconds + 60;
    }

    /// <inheritdoc/>
    public string Name => "redis";

    /// <summary>Connects (without waiting for Redis to be up: a store that is down answers every call with an error the gate handles).</summary>
    public static async Task<RedisQuotaStore> ConnectAsync(string configuration, TimeSpan longestStream)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 2000;
        options.AsyncTimeout = 2000;
        return new RedisQuotaStore(await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false), longestStream);
    }

    /// <inheritdoc/>
    public async ValueTask<Admission> AdmitAsync(string client, QuotaLimits limits, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var result = (int)await _redis.GetDatabase().ScriptEvaluateAsync(
            AdmitScript,
            [Key(client, "c"), Key(client, "m:" + Windows.Minute(now)), Key(client, "d:" + Windows.Day(now))],
            [limits.ConcurrentStreams ?? -1, limits.RequestsPerMinute ?? -1, limits.TokensPerDay ?? -1, _runningTtl]).ConfigureAwait(false);
        return result switch
        {
            1 => new Admission("concurrent_streams", limits.ConcurrentStreams!.Value, 1),
            2 => new Admission("requests_per_minute", limits.RequestsPerMinute!.Value, Windows.SecondsLeftInMinute(now)),
            3 => new Admission("tokens_per_day", limits.TokensPerDay!.Value, Windows.SecondsLeftInDay(now)),
            _ => Admission.Allowed,
        };
    }

    /// <inheritdoc/>
    public async ValueTask SettleAsync(string client, bool admitted, long tokens, DateTimeOffset now, CancellationToken cancellationToken) =>
        await _redis.GetDatabase().ScriptEvaluateAsync(
            SettleScript, [Key(client, "c"), Key(client, "d:" + Windows.Day(now))], [admitted ? "1" : "0", tokens]).ConfigureAwait(false);

    /// <inheritdoc/>
    public async ValueTask<ClientCounters> ReadAsync(string client, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var values = await _redis.GetDatabase().StringGetAsync([Key(client, "m:" + Windows.Minute(now)), Key(client, "c"), Key(client, "d:" + Windows.Day(now))]).ConfigureAwait(false);
        static long N(RedisValue v) => v.TryParse(out long n) ? n : 0;
        return new ClientCounters(N(values[0]), N(values[1]), N(values[2]));
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _redis.DisposeAsync();

    // The client in braces is a hash tag: on a Redis Cluster all of one client's keys share a slot, as a script needs.
    private static RedisKey Key(string client, string suffix) => $"gptws:q:{{{client}}}:{suffix}";
}
