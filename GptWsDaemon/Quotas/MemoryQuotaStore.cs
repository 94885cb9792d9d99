using System.Collections.Concurrent;

namespace GptWsDaemon.Quotas;

/// <summary>
/// Quota counters in this process: a small state per client, under its own lock. Clients named by address come and
/// go, so states with nothing running and windows long gone are dropped once there are many: anyone's connections
/// never grow this without bound.
/// </summary>
public sealed class MemoryQuotaStore : IQuotaStore
{
    private const int SweepAbove = 10_000;
    private readonly ConcurrentDictionary<string, State> _clients = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public string Name => "memory";

    /// <inheritdoc/>
    public ValueTask<Admission> AdmitAsync(string client, QuotaLimits limits, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (_clients.Count > SweepAbove)
        {
            Sweep(now);
        }

        var state = _clients.GetOrAdd(client, static _ => new State());
        lock (state)
        {
            state.Roll(now);
            if (limits.ConcurrentStreams is { } c && state.Concurrent >= c)
            {
                return new(new Admission("concurrent_streams", c, 1));
            }

            if (limits.RequestsPerMinute is { } r && state.MinuteCount >= r)
            {
                return new(new Admission("requests_per_minute", r, Windows.SecondsLeftInMinute(now)));
            }

            if (limits.TokensPerDay is { } t && state.DayTokens >= t)
            {
                return new(new Admission("tokens_per_day", t, Windows.SecondsLeftInDay(now)));
            }

            state.Concurrent++;
            state.MinuteCount++;
            return new(Admission.Allowed);
        }
    }

    /// <inheritdoc/>
    public ValueTask SettleAsync(string client, bool admitted, long tokens, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var state = _clients.GetOrAdd(client, static _ => new State());
        lock (state)
        {
            state.Roll(now);
            if (admitted && state.Concurrent > 0)
            {
                state.Concurrent--;
            }

            state.DayTokens += tokens;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<ClientCounters> ReadAsync(string client, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!_clients.TryGetValue(client, out var state))
        {
            return new(default(ClientCounters));
        }

        lock (state)
        {
            state.Roll(now);
            return new(new ClientCounters(state.MinuteCount, state.Concurrent, state.DayTokens));
        }
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (client, state) in _clients)
        {
            lock (state)
            {
                state.Roll(now);
                if (state.Concurrent == 0 && state.MinuteCount == 0 && state.DayTokens == 0)
                {
                    _clients.TryRemove(client, out _);
                }
            }
        }
    }

    private sealed class State
    {
        private long _minute = -1;
        private long _day = -1;

        public int Concurrent { get; set; }

        public long MinuteCount { get; set; }

        public long DayTokens { get; set; }

        /// <summary>Starts new windows when the minute or the day has turned.</summary>
        public void Roll(DateTimeOffset now)
        {
            var minute = Windows.Minute(now);
            if (minute != _minute)
            {
                (_minute, MinuteCount) = (minute, 0);
            }

            var day = Windows.Day(now);
            if (day != _day)
            {
                (_day, DayTokens) = (day, 0);
            }
        }
    }
}
