using NLog;

namespace GptWsDaemon.Upstream.Providers;

/// <summary>
/// A provider's keys (protocol.md §2 "Key pools"): requests take them in turn, a key the provider refused or
/// rate-limited is benched for a while and skipped, and a bench is logged once, when the key goes onto it — by its
/// masked id. Lock-free: a take is one increment and a scan of a few longs.
/// </summary>
public sealed class KeyPool
{
    /// <summary>Most keys of one provider: a request remembers the ones it tried in one 64-bit mask.</summary>
    public const int MaxKeys = 64;

    private static readonly Logger Log = LogManager.GetLogger("GptWsDaemon.Upstream.KeyPool");
    private readonly string _provider;
    private readonly ApiKey[] _keys;
    private readonly long[] _benchedUntil; // Unix ms; 0: in service
    private readonly BenchReason[] _reasons;
    private readonly TimeProvider _time;
    private readonly Action<BenchReason>? _benched;
    private int _next = -1;

    /// <summary>Creates the pool of <paramref name="provider"/>; <paramref name="benched"/> counts each bench.</summary>
    public KeyPool(string provider, IReadOnlyList<ApiKey> keys, TimeProvider time, Action<BenchReason>? benched = null)
    {
        if (keys.Count is 0 or > MaxKeys)
        {
            throw new ArgumentOutOfRangeException(nameof(keys), $"a provider has 1 to {MaxKeys} keys");
        }

        _provider = provider;
        _keys = [.. keys];
        _benchedUntil = new long[_keys.Length];
        _reasons = new BenchReason[_keys.Length];
        _time = time;
        _benched = benched;
    }

    /// <summary>Why a key is benched.</summary>
    public enum BenchReason
    {
        /// <summary>In service.</summary>
        None,

        /// <summary>The provider refused it (401/403).</summary>
        Refused,

        /// <summary>The provider rate-limited it (429).</summary>
        RateLimited,
    }

    /// <summary>The keys.</summary>
    public IReadOnlyList<ApiKey> Keys => _keys;

    /// <summary>
    /// The next key in service that is not in <paramref name="tried"/> (bit i: key i), marked there; -1 when none is.
    /// Taking in turn spreads requests over the keys.
    /// </summary>
    public int Take(ref ulong tried)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)_keys.Length);
        for (var i = 0; i < _keys.Length; i++)
        {
            var index = (start + i) % _keys.Length;
            if ((tried & (1UL << index)) != 0 || Volatile.Read(ref _benchedUntil[index]) > now)
            {
                continue;
            }

            tried |= 1UL << index;
            return index;
        }

        return -1;
    }

    /// <summary>Benches key <paramref name="index"/> for <paramref name="span"/> (never shortening a longer bench); logs it only when it was in service.</summary>
    public void Bench(int index, TimeSpan span, BenchReason reason)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var until = now + (long)span.TotalMilliseconds;
        while (true)
        {
            var current = Volatile.Read(ref _benchedUntil[index]);
            if (current >= until)
            {
                return; // already benched longer (another request saw the same refusal)
            }

            if (Interlocked.CompareExchange(ref _benchedUntil[index], until, current) != current)
            {
                continue;
            }

            _reasons[index] = reason;
            _benched?.Invoke(reason);
            if (current <= now)
            {
                Log.Warn("provider {0}: key {1} benched for {2:0} s ({3})", _provider, _keys[index].Id, span.TotalSeconds, reason == BenchReason.Refused ? "refused: check or replace it" : "rate-limited");
            }

            return;
        }
    }

    /// <summary>How long until a key is in service again: zero when one is now.</summary>
    public TimeSpan UntilFirstBack()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var earliest = long.MaxValue;
        for (var i = 0; i < _benchedUntil.Length; i++)
        {
            earliest = Math.Min(earliest, Volatile.Read(ref _benchedUntil[i]));
        }

        return TimeSpan.FromMilliseconds(Math.Max(0, earliest - now));
    }

    /// <summary>Each key's state now, for /healthz and error messages.</summary>
    public IReadOnlyList<KeyState> States()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var states = new KeyState[_keys.Length];
        for (var i = 0; i < _keys.Length; i++)
        {
            var until = Volatile.Read(ref _benchedUntil[i]);
            states[i] = until > now
                ? new KeyState(_keys[i].Id, _reasons[i], DateTimeOffset.FromUnixTimeMilliseconds(until))
                : new KeyState(_keys[i].Id, BenchReason.None, null);
        }

        return states;
    }

    /// <summary>One key's state.</summary>
    /// <param name="Id">Masked id.</param>
    /// <param name="Reason">Why it is benched; None when in service.</param>
    /// <param name="Until">When it is back, or null when in service.</param>
    public readonly record struct KeyState(string Id, BenchReason Reason, DateTimeOffset? Until);
}
