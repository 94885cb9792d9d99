using System.Text.Json;
using GptWsDaemon.Streams;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// protocol.md §4.5 on one daemon with the memory log: a resumable stream outlives its connection, and a resume on
/// another connection gets every frame it missed, then the rest live, to exactly one final frame.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class ResumeTests
{
    private static readonly string[] Deltas = [.. Enumerable.Range(0, 40).Select(i => i % 7 == 3 ? $"语{i} 😀" : $"w{i} ")];
    private static readonly string Answer = string.Concat(Deltas);

    [Test, CancelAfter(30000)]
    public async Task ResumableFrames_CarryNFromOneAndTheFirstTheStreamId_OthersDoNot(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["a", "b", "c"]));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = "r", data = new { query = "q", resumable = true } }, ct);
        await client.SendAsync(new { seq = "p", data = new { query = "q" } }, ct);
        var resumable = await client.ReadStreamAsync("r", ct);
        var plain = await client.ReadStreamAsync("p", ct);

        Assert.That(resumable.Frames.Select(N), Is.EqualTo(Enumerable.Range(1, resumable.Frames.Count).Select(i => (long)i)));
        var id = resumable.Frames[0].GetProperty("data").GetProperty("stream_id").GetString()!;
        Assert.That(id, Has.Length.EqualTo(22).And.Match("^[A-Za-z0-9_-]+$"), "128 random bits, base64url");
        Assert.That(resumable.Frames.Skip(1).Any(f => f.GetProperty("data").TryGetProperty("stream_id", out _)), Is.False);
        Assert.That(resumable.Text, Is.EqualTo("abc"));
        Assert.That(plain.Frames.Any(f => f.GetProperty("data").TryGetProperty("n", out _)), Is.False, "streams that do not ask behave as before");
    }

    [Test, CancelAfter(30000)]
    public async Task ConnectionDropsMidStream_ResumeOnANewConnection_GetsEveryFrameOnceAndOneFinal(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(25)));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        var before = await AskThenDropAsync(daemon, "s1", 8, ct);
        await Task.Delay(300, ct); // the upstream goes on into the log meanwhile

        using var second = await daemon.ConnectAsync(ct);
        var id = StreamId(before[0]);
        await second.SendAsync(new { seq = "s2", action = "resume", stream_id = id, after = N(before[^1]) }, ct);
        var after = await second.ReadStreamAsync("s2", ct);

        var all = before.Concat(after.Frames).ToList();
        Assert.That(all.Select(N), Is.EqualTo(Enumerable.Range(1, all.Count).Select(i => (long)i)), "n contiguous, no duplicate");
        Assert.That(string.Concat(all.Select(Contents)), Is.EqualTo(Answer), "byte-exact");
        Assert.That(all.Count(f => f.GetProperty("data").GetProperty("finish_reason").ValueKind != JsonValueKind.Null), Is.EqualTo(1));
        Assert.That(after.FinishReason, Is.EqualTo("stop"));
        Assert.That(upstream.Requests, Has.Count.EqualTo(1), "one paid request");
    }

    [Test, CancelAfter(30000)]
    public async Task ResumeAfterTheHold_Is1008_AndTheUpstreamWasAborted(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(200)));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { Resume = new ResumeSettings { Hold = TimeSpan.FromSeconds(1) } });
        var before = await AskThenDropAsync(daemon, "h", 1, ct);

        var closed = await upstream.Requests[0].ClosedTask.WaitAsync(TimeSpan.FromSeconds(5), ct);
        using var second = await daemon.ConnectAsync(ct);
        await second.SendAsync(new { seq = "h2", action = "resume", stream_id = StreamId(before[0]), after = 1 }, ct);
        var refused = await second.ReadStreamAsync("h2", ct);

        Assert.That(refused.Code, Is.EqualTo(1008));
        Assert.That(refused.Message, Does.Contain("not found or expired"));
        Assert.That(closed, Is.LessThan(DateTime.UtcNow));
        Assert.That(daemon.Server.Resumables.Count, Is.Zero, "an expired stream is forgotten");
    }

    [Test, CancelAfter(30000)]
    public async Task ResumeAfterTheFinalFrame_Is1008_NotAResumeThatNeverEnds(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["a", "b"]));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "f", data = new { query = "q", resumable = true } }, ct);
        var whole = await client.ReadStreamAsync("f", ct);

        await client.SendAsync(new { seq = "f", action = "resume", stream_id = StreamId(whole.Frames[0]), after = N(whole.Final) }, ct);
        var nothing = await client.ReadStreamAsync("f", ct);
        await client.SendAsync(new { seq = "f", action = "resume", stream_id = StreamId(whole.Frames[0]), after = 1 }, ct);
        var rest = await client.ReadStreamAsync("f", ct);

        Assert.That(nothing.Code, Is.EqualTo(1008));
        Assert.That(nothing.Message, Does.Contain("no frame after"));
        Assert.That(rest.Frames.Select(N), Is.EqualTo(Enumerable.Range(2, whole.Frames.Count - 1).Select(i => (long)i)));
    }

    [Test, CancelAfter(30000)]
    public async Task UnknownStream_Is1008_AndTheSeqIsFreeAgain(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["x"]));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);

        await client.SendAsync(new { seq = 7, action = "resume", stream_id = "AAAAAAAAAAAAAAAAAAAAAA" }, ct);
        var refused = await client.ReadStreamAsync("7", ct);
        await client.SendAsync(new { seq = 7, data = new { query = "q" } }, ct);
        var next = await client.ReadStreamAsync("7", ct);

        Assert.That(refused.Code, Is.EqualTo(1008));
        Assert.That(next.Text, Is.EqualTo("x"));
    }

    [Test, CancelAfter(30000)]
    public async Task TwoResumers_TheLaterWins_TheEarlierGetsAFinalFrameSayingSo(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(25)));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var owner = await daemon.ConnectAsync(ct);
        await owner.SendAsync(new { seq = "o", data = new { query = "q", resumable = true } }, ct);
        var head = await ReadFramesAsync(owner, 2, ct);
        var id = StreamId(head[0]);

        using var earlier = await daemon.ConnectAsync(ct);
        await earlier.SendAsync(new { seq = "e", action = "resume", stream_id = id, after = 2 }, ct);
        var ownerEnd = await owner.ReadStreamAsync("o", ct);
        await ReadFramesAsync(earlier, 1, ct);
        using var later = await daemon.ConnectAsync(ct);
        await later.SendAsync(new { seq = "l", action = "resume", stream_id = id, after = 0 }, ct);
        var earlierEnd = await earlier.ReadStreamAsync("e", ct);
        var laterAll = await later.ReadStreamAsync("l", ct);

        foreach (var replaced in new[] { ownerEnd.Final, earlierEnd.Final })
        {
            Assert.That(replaced.GetProperty("data").GetProperty("detached").GetBoolean(), Is.True);
            Assert.That(replaced.GetProperty("msg").GetString(), Is.EqualTo("stream resumed on another connection"));
        }

        Assert.That(laterAll.Frames.Select(N), Is.EqualTo(Enumerable.Range(1, laterAll.Frames.Count).Select(i => (long)i)));
        Assert.That(laterAll.Text, Is.EqualTo(Answer));
        Assert.That(laterAll.FinishReason, Is.EqualTo("stop"));
    }

    [Test, CancelAfter(30000)]
    public async Task CancelOnAResumedStream_EndsItCancelled_AndAbortsTheUpstream(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(100)));
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        var head = await AskThenDropAsync(daemon, "c", 1, ct);

        using var second = await daemon.ConnectAsync(ct);
        await second.SendAsync(new { seq = "c", action = "resume", stream_id = StreamId(head[0]), after = 1 }, ct);
        await ReadFramesAsync(second, 1, ct);
        await second.SendAsync(new { seq = "c", action = "cancel" }, ct);
        var end = await second.ReadStreamAsync("c", ct);

        Assert.That(end.FinishReason, Is.EqualTo("cancelled"));
        await upstream.Requests[0].ClosedTask.WaitAsync(TimeSpan.FromSeconds(5), ct);
    }

    [Test, CancelAfter(30000)]
    public async Task FinishedStream_IsReplayedWithinKeep_And1008After(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["one ", "two"]));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { Resume = new ResumeSettings { Keep = TimeSpan.FromSeconds(1) } });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "k", data = new { query = "q", resumable = true } }, ct);
        var original = await client.ReadStreamAsync("k", ct);

        await client.SendAsync(new { seq = "k", action = "resume", stream_id = StreamId(original.Frames[0]) }, ct);
        var replay = await client.ReadStreamAsync("k", ct);
        await Task.Delay(1500, ct);
        await client.SendAsync(new { seq = "k", action = "resume", stream_id = StreamId(original.Frames[0]) }, ct);
        var gone = await client.ReadStreamAsync("k", ct);

        Assert.That(replay.Frames.Select(f => f.GetRawText()), Is.EqualTo(original.Frames.Select(f => f.GetRawText())), "the same frames, byte for byte");
        Assert.That(gone.Code, Is.EqualTo(1008));
    }

    [Test, CancelAfter(30000)]
    public async Task AnotherTokensStream_IsNotFound(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["x"], TimeSpan.FromMilliseconds(500)));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { AccessTokens = ["alice:tok-alice-0000000000", "bob:tok-bob-00000000000000"] });
        using var alice = await daemon.ConnectAsync("tok-alice-0000000000", ct);
        using var bob = await daemon.ConnectAsync("tok-bob-00000000000000", ct);
        await alice.SendAsync(new { seq = "a", data = new { query = "q", resumable = true } }, ct);
        var head = await ReadFramesAsync(alice, 1, ct);

        await bob.SendAsync(new { seq = "b", action = "resume", stream_id = StreamId(head[0]) }, ct);
        var refused = await bob.ReadStreamAsync("b", ct);

        Assert.That(refused.Code, Is.EqualTo(1008));
        Assert.That((await alice.ReadStreamAsync("a", ct)).FinishReason, Is.EqualTo("stop"), "the owner's stream is untouched");
    }

    [Test, CancelAfter(30000)]
    public async Task LogOverMaxLogBytes_DropsTheOldestFrames_AResumeThatNeedsThemIs1008_TheRestResume(CancellationToken ct)
    {
        var deltas = Enumerable.Range(0, 200).Select(i => $"frame {i:000} ").ToList();
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(deltas));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { Resume = new ResumeSettings { MaxLogBytes = 4096 } });
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq = "big", data = new { query = "q", resumable = true } }, ct);
        var whole = await client.ReadStreamAsync("big", ct);
        var id = StreamId(whole.Frames[0]);

        Assert.That(daemon.Server.Resumables.TotalBytes, Is.LessThanOrEqualTo(4096), "the log is bounded");
        await client.SendAsync(new { seq = "old", action = "resume", stream_id = id, after = 0 }, ct);
        var old = await client.ReadStreamAsync("old", ct);
        Assert.That(old.Code, Is.EqualTo(1008));
        Assert.That(old.Message, Does.Contain("no longer kept"));

        await client.SendAsync(new { seq = "tail", action = "resume", stream_id = id, after = whole.Frames.Count - 5 }, ct);
        var tail = await client.ReadStreamAsync("tail", ct);
        Assert.That(tail.Frames.Select(f => f.GetRawText().Replace("\"seq\":\"tail\"", "\"seq\":\"big\"", StringComparison.Ordinal)),
            Is.EqualTo(whole.Frames.TakeLast(5).Select(f => f.GetRawText())), "the newest frames, byte for byte but for the seq");
    }

    [Test, CancelAfter(30000)]
    public async Task ManyStreams_TheMemoryLogsTogetherStayUnderMaxTotalBytes_AndAreFreedAfterKeep(CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Enumerable.Range(0, 100).Select(i => $"piece {i} ")));
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { Resume = new ResumeSettings { MaxTotalBytes = 8192, Keep = TimeSpan.FromSeconds(1) } });
        using var client = await daemon.ConnectAsync(ct);
        for (var i = 0; i < 6; i++)
        {
            await client.SendAsync(new { seq = i, data = new { query = "q", resumable = true } }, ct);
        }

        var answers = new List<StreamResult>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(await client.ReadStreamAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture), ct));
        }

        Assert.That(answers.Select(a => a.Text), Has.All.EqualTo(string.Concat(Enumerable.Range(0, 100).Select(i => $"piece {i} "))), "delivery does not depend on the log");
        Assert.That(daemon.Server.Resumables.TotalBytes, Is.LessThanOrEqualTo(8192));
        await Task.Delay(1500, ct);
        Assert.That((daemon.Server.Resumables.TotalBytes, daemon.Server.Resumables.Count), Is.EqualTo((0L, 0)));
    }

    [Test]
    public void ResumeFrames_AreCheckedWithClearErrors()
    {
        var parser = new GptWsDaemon.Protocol.RequestParser(new GptWsDaemon.Config.DaemonSettings());
        var badId = parser.Parse("{\"seq\":1,\"action\":\"resume\",\"stream_id\":\"../x\"}"u8, 0);
        var badAfter = parser.Parse("{\"seq\":1,\"action\":\"resume\",\"stream_id\":\"abc\",\"after\":-1}"u8, 0);
        var good = parser.Parse("{\"seq\":1,\"action\":\"resume\",\"stream_id\":\"abc\",\"after\":5}"u8, 0);

        Assert.That(badId, Is.TypeOf<GptWsDaemon.Protocol.ClientCommand.Invalid>().And.Property("Code").EqualTo(1004));
        Assert.That(badAfter, Is.TypeOf<GptWsDaemon.Protocol.ClientCommand.Invalid>().And.Property("Code").EqualTo(1004));
        Assert.That(good, Is.EqualTo(new GptWsDaemon.Protocol.ClientCommand.ResumeFrom(GptWsDaemon.Protocol.RequestSeq.FromNumber("1"u8), "abc", 5, 0)));
    }

    /// <summary>Asks <paramref name="daemon"/> for a resumable answer, reads <paramref name="frames"/> frames, then drops the TCP connection (no close handshake).</summary>
    internal static async Task<List<JsonElement>> AskThenDropAsync(DaemonFixture daemon, object seq, int frames, CancellationToken ct)
    {
        var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(new { seq, data = new { query = "q", resumable = true } }, ct);
        var read = await ReadFramesAsync(client, frames, ct);
        client.Socket.Abort();
        client.Dispose();
        return read;
    }

    internal static long N(JsonElement frame) => frame.GetProperty("data").GetProperty("n").GetInt64();

    internal static string StreamId(JsonElement frame) => frame.GetProperty("data").GetProperty("stream_id").GetString()!;

    internal static string Contents(JsonElement frame) => frame.GetProperty("data").GetProperty("contents").GetString()!;

    internal static async Task<List<JsonElement>> ReadFramesAsync(WsTestClient client, int count, CancellationToken ct)
    {
        var frames = new List<JsonElement>();
        while (frames.Count < count)
        {
            frames.Add(await client.ReceiveAsync(ct) ?? throw new InvalidOperationException("closed"));
        }

        return frames;
    }
}
