using StackExchange.Redis;

namespace GptWsDaemon.Streams;

/// <summary>
/// One blocking reader per instance for every stream it follows from Redis: <c>XREAD BLOCK</c> over all their keys
/// (and this instance's wake key, written when a new one joins) on a connection of its own, since a blocking command
/// would stall every other command on a shared StackExchange.Redis connection.
/// </summary>
internal sealed class RedisTailPump : IAsyncDisposable
{
    private const int BlockMilliseconds = 1000;
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(3);
    private readonly ConnectionMultiplexer _blocking;
    private readonly RedisStreamStore _store;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private string _wakeId = "0-0";

    public RedisTailPump(ConnectionMultiplexer blocking, RedisStreamStore store)
    {
        _blocking = blocking;
        _store = store;
        _loop = RunAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A read still blocked in Redis: closing the connection ends it.
        }

        await _blocking.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var db = _blocking.GetDatabase();
        var wake = RedisKeys.Wake(_store.InstanceId).ToString();
        while (!_stop.IsCancellationRequested)
        {
            var tails = _store.Followed();
            try
            {
                var args = new List<object>(4 + tails.Count * 2) { "BLOCK", BlockMilliseconds, "STREAMS", wake };
                args.AddRange(tails.Select(t => (object)t.Key));
                args.Add(_wakeId);
                args.AddRange(tails.Select(t => (object)RedisKeys.EntryId(t.Position)));
                var result = await db.ExecuteAsync("XREAD", args).ConfigureAwait(false);
                if (!result.IsNull)
                {
                    Dispatch(result, tails, wake);
                }

                await _store.CheckQuietAsync(tails.Where(t => !t.IsEnded && Environment.TickCount64 - t.LastProgress > Quiet.TotalMilliseconds).ToList()).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _store.Failed("tail", e);
                try
                {
                    await Task.Delay(500, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private void Dispatch(RedisResult result, IReadOnlyList<RedisTail> tails, string wake)
    {
        var byKey = tails.ToLookup(t => t.Key, StringComparer.Ordinal); // two readers may follow one stream for a moment (a takeover)
        // RESP2 answers [[key, entries], …]; RESP3 a map, seen here as [key, entries, key, entries, …].
        var top = (RedisResult[])result!;
        var flat = top.Length > 0 && top[0].Length < 0;
        for (var i = 0; i < top.Length; i += flat ? 2 : 1)
        {
            var key = (string)(flat ? top[i] : top[i][0])!;
            var entries = (RedisResult[])(flat ? top[i + 1] : top[i][1])!;
            if (key == wake)
            {
                _wakeId = entries.Length > 0 ? (string)((RedisResult[])entries[^1]!)[0]! : _wakeId;
                continue;
            }

            foreach (var tail in byKey[key])
            {
                foreach (var entry in entries)
                {
                    var parts = (RedisResult[])entry!;
                    var fields = (RedisResult[])parts[1]!;
                    for (var f = 0; f + 1 < fields.Length; f += 2)
                    {
                        if ((string?)fields[f] == "f")
                        {
                            tail.Deliver(RedisStreamStore.Frame((string)parts[0]!, (RedisValue)fields[f + 1]), replay: false);
                        }
                    }
                }
            }
        }
    }
}
