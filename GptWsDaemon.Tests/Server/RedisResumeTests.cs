using System.Text.Json;
using GptWsDaemon.Streams;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// protocol.md §4.5 with the logs in a real <c>redis-server</c>: two daemons in this process share it; a stream started
/// on one is resumed, followed, cancelled and taken over from the other.
/// </summary>
[Category("redis")]
[TestFixture]
public sealed class RedisResumeTests
{
    private static readonly string[] Deltas = [.. Enumerable.Range(0, 40).Select(i => i % 5 == 2 ? $"字{i}🎉" : $"t{i} ")];
    private static readonly string Answer = string.Concat(Deltas);

    [Test, CancelAfter(60000)]
    public async Task DroppedOnA_ResumedOnB_EveryFrameOnceByteExact_OneUpstreamRequest(CancellationToken ct)
    {
        await using var pair = await Pair.StartAsync(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(30)), ct);
        var (upstream, a, b) = (pair.Upstream, pair.A, pair.B);

        var before = await ResumeTests.AskThenDropAsync(a, "q1", 6, ct);
        await Task.Delay(200, ct);

        using var second = await b.ConnectAsync(ct);
        await second.SendAsync(new { seq = "q2", action = "resume", stream_id = ResumeTests.StreamId(before[0]), after = 6 }, ct);
        var after = await second.ReadStreamAsync("q2", ct);

        var all = before.Concat(after.Frames).ToList();
        Assert.That(all.Select(ResumeTests.N), Is.EqualTo(Enumerable.Range(1, all.Count).Select(i => (long)i)), "n contiguous, no duplicate");
        Assert.That(string.Concat(all.Select(ResumeTests.Contents)), Is.EqualTo(Answer));
        Assert.That(after.FinishReason, Is.EqualTo("stop"));
        Assert.That(all.Count(f => f.GetProperty("data").GetProperty("finish_reason").ValueKind != JsonValueKind.Null), Is.EqualTo(1));
        Assert.That(upstream.Requests, Has.Count.EqualTo(1));
        Assert.That(await MetricAsync(a, "gptws_resume_redis_frames_total"), Is.EqualTo(all.Count), "every frame reached Redis");
        Assert.That(await MetricAsync(a, "gptws_resume_redis_writes_total"), Is.GreaterThan(0).And.LessThanOrEqualTo(all.Count));
    }

    [Test, CancelAfter(60000)]
    public async Task FollowedFromB_CancelOnB_AbortsTheUpstreamOnA(CancellationToken ct)
    {
        await using var pair = await Pair.StartAsync(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(100)), ct);
        var (upstream, a, b) = (pair.Upstream, pair.A, pair.B);
        var head = await ResumeTests.AskThenDropAsync(a, 1, 1, ct);

        using var onB = await b.ConnectAsync(ct);
        await onB.SendAsync(new { seq = 2, action = "resume", stream_id = ResumeTests.StreamId(head[0]), after = 1 }, ct);
        await ResumeTests.ReadFramesAsync(onB, 1, ct);
        await onB.SendAsync(new { seq = 2, action = "cancel" }, ct);
        var end = await onB.ReadStreamAsync("2", ct);

        Assert.That(end.FinishReason, Is.EqualTo("cancelled"));
        await upstream.Requests[0].ClosedTask.WaitAsync(TimeSpan.FromSeconds(5), ct);
    }

    [Test, CancelAfter(60000)]
    public async Task ReaderOnB_ThenALaterResumeOnA_BGetsTheFinalFrameSayingSo(CancellationToken ct)
    {
        await using var pair = await Pair.StartAsync(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(50)), ct);
        var (upstream, a, b) = (pair.Upstream, pair.A, pair.B);
        using var owner = await a.ConnectAsync(ct);
        await owner.SendAsync(new { seq = "o", data = new { query = "q", resumable = true } }, ct);
        var id = ResumeTests.StreamId((await ResumeTests.ReadFramesAsync(owner, 1, ct))[0]);

        using var onB = await b.ConnectAsync(ct);
        await onB.SendAsync(new { seq = "b", action = "resume", stream_id = id, after = 1 }, ct);
        var ownerEnd = await owner.ReadStreamAsync("o", ct); // B took it over from the owner's own connection
        await ResumeTests.ReadFramesAsync(onB, 1, ct);
        using var laterOnA = await a.ConnectAsync(ct);
        await laterOnA.SendAsync(new { seq = "l", action = "resume", stream_id = id }, ct);
        var bEnd = await onB.ReadStreamAsync("b", ct);
        var later = await laterOnA.ReadStreamAsync("l", ct);

        Assert.That(ownerEnd.Final.GetProperty("data").GetProperty("detached").GetBoolean(), Is.True);
        Assert.That(bEnd.Final.GetProperty("data").GetProperty("detached").GetBoolean(), Is.True);
        Assert.That(later.Text, Is.EqualTo(Answer));
        Assert.That(later.Frames.Select(ResumeTests.N), Is.EqualTo(Enumerable.Range(1, later.Frames.Count).Select(i => (long)i)));
    }

    [Test, CancelAfter(60000)]
    public async Task ReaderOnB_KeepsTheStreamAlivePastTheHold_ThenItsDropExpiresIt(CancellationToken ct)
    {
        static GptWsDaemon.Config.DaemonSettings Hold(GptWsDaemon.Config.DaemonSettings s) => s with { Resume = new ResumeSettings { Hold = TimeSpan.FromSeconds(1) } };
        await using var pair = await Pair.StartAsync(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(150)), ct, Hold);
        var (upstream, a, b) = (pair.Upstream, pair.A, pair.B);
        var first = await a.ConnectAsync(ct);
        await first.SendAsync(new { seq = "h", data = new { query = "q", resumable = true } }, ct);
        var id = ResumeTests.StreamId((await ResumeTests.ReadFramesAsync(first, 1, ct))[0]);
        first.Socket.Abort();
        first.Dispose();

        var onB = await b.ConnectAsync(ct);
        await onB.SendAsync(new { seq = "h", action = "resume", stream_id = id, after = 1 }, ct);
        await ResumeTests.ReadFramesAsync(onB, 16, ct); // 2.4 s: past the 1 s hold on A, where nobody reads it
        Assert.That(upstream.Requests[0].ClosedTask.IsCompleted, Is.False, "a reader on another instance holds the stream");
        onB.Socket.Abort();
        onB.Dispose();

        await upstream.Requests[0].ClosedTask.WaitAsync(TimeSpan.FromSeconds(8), ct);
        using var late = await b.ConnectAsync(ct);
        await late.SendAsync(new { seq = "z", action = "resume", stream_id = id }, ct);
        Assert.That((await late.ReadStreamAsync("z", ct)).Code, Is.EqualTo(1008));
    }

    [Test, CancelAfter(60000)]
    public async Task FinishedStream_ReplayedFromRedis_OnItsOwnInstanceAndTheOther_ByteForByte(CancellationToken ct)
    {
        await using var pair = await Pair.StartAsync(FakeOpenAiServer.Streams(Deltas), ct);
        var (upstream, a, b) = (pair.Upstream, pair.A, pair.B);
        using var onA = await a.ConnectAsync(ct);
        using var onB = await b.ConnectAsync(ct);
        await onA.SendAsync(new { seq = "x", data = new { query = "q", resumable = true } }, ct);
        var original = await onA.ReadStreamAsync("x", ct);
        var id = ResumeTests.StreamId(original.Frames[0]);
        await Task.Delay(300, ct); // the last batch reaches Redis

        await onA.SendAsync(new { seq = "x", action = "resume", stream_id = id }, ct);
        var again = await onA.ReadStreamAsync("x", ct);
        await onB.SendAsync(new { seq = "x", action = "resume", stream_id = id, after = 10 }, ct);
        var elsewhere = await onB.ReadStreamAsync("x", ct);

        Assert.That(a.Server.Resumables.Count, Is.Zero, "with Redis an ended log is not held in memory");
        Assert.That(again.Frames.Select(f => f.GetRawText()), Is.EqualTo(original.Frames.Select(f => f.GetRawText())));
        Assert.That(elsewhere.Frames.Select(f => f.GetRawText()), Is.EqualTo(original.Frames.Skip(10).Select(f => f.GetRawText())));
    }

    [Test, CancelAfter(60000)]
    public async Task RedisDown_ResumableRefusedClearly_OrKeptInMemory_OtherStreamsUnaffected(CancellationToken ct)
    {
        var closedPort = DaemonFixture.FreePort();
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        await using var failing = await DaemonFixture.StartWithRedisAsync(upstream, $"redis://127.0.0.1:{closedPort}");
        await using var memory = await DaemonFixture.StartWithRedisAsync(upstream, $"redis://127.0.0.1:{closedPort}", s => s with { Resume = new ResumeSettings { MemoryOnStoreError = true } });
        using var c1 = await failing.ConnectAsync(ct);
        using var c2 = await memory.ConnectAsync(ct);

        await c1.SendAsync(new { seq = "r", data = new { query = "q", resumable = true } }, ct);
        var refused = await c1.ReadStreamAsync("r", ct);
        await c1.SendAsync(new { seq = "p", data = new { query = "q" } }, ct);
        var plain = await c1.ReadStreamAsync("p", ct);
        await c2.SendAsync(new { seq = "r", data = new { query = "q", resumable = true } }, ct);
        var kept = await c2.ReadStreamAsync("r", ct);

        Assert.That(refused.Code, Is.EqualTo(1006));
        Assert.That(refused.Message, Does.Contain("Redis").And.Contain("resumable"));
        Assert.That(plain.Text, Is.EqualTo("ok"));
        Assert.That(kept.Text, Is.EqualTo("ok"));
        Assert.That(kept.Frames[0].GetProperty("data").TryGetProperty("stream_id", out _), Is.True);
    }

    /// <summary>A real redis-server, a fake upstream and two daemons sharing both; disposed together.</summary>
    private sealed class Pair(RedisServer redis, FakeOpenAiServer upstream, DaemonFixture a, DaemonFixture b) : IAsyncDisposable
    {
        public FakeOpenAiServer Upstream => upstream;

        public DaemonFixture A => a;

        public DaemonFixture B => b;

        public static async Task<Pair> StartAsync(Func<FakeRequest, FakeResponse, Task> script, CancellationToken ct, Func<GptWsDaemon.Config.DaemonSettings, GptWsDaemon.Config.DaemonSettings>? configure = null)
        {
            var redis = await RedisServer.StartAsync(ct);
            var upstream = new FakeOpenAiServer(script);
            return new Pair(redis, upstream, await DaemonFixture.StartWithRedisAsync(upstream, redis.Url, configure), await DaemonFixture.StartWithRedisAsync(upstream, redis.Url, configure));
        }

        public async ValueTask DisposeAsync()
        {
            await a.DisposeAsync();
            await b.DisposeAsync();
            await upstream.DisposeAsync();
            await redis.DisposeAsync();
        }
    }

    private static async Task<double> MetricAsync(DaemonFixture daemon, string name)
    {
        using var stream = new MemoryStream();
        await daemon.Metrics.Registry.CollectAndExportAsTextAsync(stream);
        var line = System.Text.Encoding.UTF8.GetString(stream.ToArray()).Split('\n').First(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
