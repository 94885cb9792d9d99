using System.Text;
using GptWsDaemon.Protocol;
using GptWsDaemon.Streams;

namespace GptWsDaemon.Tests.Protocol;

/// <summary><see cref="LogFrame"/>: a reply frame in log form (seq null, n and stream_id added) and rendered for another reader's seq.</summary>
[Category("unit")]
[TestFixture]
public sealed class LogFrameTests
{
    private readonly LogBuffer _chunks = new(new ChunkPool(4));

    [Test]
    public void Stamp_TheFirstFrame_GetsNAndStreamIdFirstInData_AndANullSeq()
    {
        var seq = RequestSeq.FromString("a\"b");
        var entry = LogFrame.Stamp(ReplyFrames.Content(seq, 0, "杭州 \"data\":{"), seq.Json.Length, 1, "STREAMid_-0123456789ab", final: false, _chunks);

        Assert.That(Encoding.UTF8.GetString(entry.Bytes.Span), Is.EqualTo("""{"code":0,"msg":"ok","seq":null,"data":{"n":1,"stream_id":"STREAMid_-0123456789ab","consume_time":"0.00","finish_reason":null,"contents":"杭州 \"data\":{"}}"""));
        Assert.That((entry.N, entry.Final), Is.EqualTo((1L, false)));
    }

    [TestCase("\"x\"")]
    [TestCase("12345")]
    [TestCase("\"长 seq \\\"quoted\\\" \\\\ \"")]
    public void RenderFor_AnotherSeq_IsTheOriginalFrameWithThatSeq(string seqJson)
    {
        var original = RequestSeq.FromString("original");
        var reader = seqJson.StartsWith('"') ? RequestSeq.FromString(System.Text.Json.JsonSerializer.Deserialize<string>(seqJson)!) : RequestSeq.FromNumber(Encoding.UTF8.GetBytes(seqJson));
        var entry = LogFrame.Stamp(ReplyFrames.Final(original, 0, "stop", new UsageInfo(3, 4)), original.Json.Length, 42, null, final: true, _chunks);

        var rendered = entry.RenderFor(reader);
        try
        {
            var expected = Encoding.UTF8.GetString(Bytes(ReplyFrames.Final(reader, 0, "stop", new UsageInfo(3, 4)))).Replace("\"data\":{", "\"data\":{\"n\":42,", StringComparison.Ordinal);
            Assert.That(Encoding.UTF8.GetString(rendered.Memory.Span), Is.EqualTo(expected));
        }
        finally
        {
            rendered.Release();
        }
    }

    [Test]
    public void Buffer_FramesBackToBackInPooledChunks_DroppedChunksReused_ALargeFrameApart()
    {
        var pool = new ChunkPool(8);
        var log = new LogBuffer(pool);
        var sizes = new[] { 5000, 5000, 100, LogBuffer.ChunkSize + 1, 7 };
        foreach (var (size, i) in sizes.Select((s, i) => (s, i)))
        {
            log.Reserve(size).Span.Fill((byte)('a' + i));
        }

        var frames = log.Frames().Select(f => f.ToArray()).ToList();
        Assert.That(frames.Select(f => f.Length), Is.EqualTo(sizes));
        Assert.That(frames.Select((f, i) => f.All(b => b == (byte)('a' + i))), Has.All.True, "each frame intact");

        var firstChunk = pool.Rent(); // a fresh one: the pool is empty while all chunks are in use
        pool.Return(firstChunk);
        log.DropOldest(); // the first chunk held only frame 0
        Assert.That(log.Frames().Select(f => f.Length), Is.EqualTo(sizes[1..]));
        Assert.That(log.OldestLength, Is.EqualTo(5000));
        log.DropOldest();
        log.DropOldest();
        log.DropOldest(); // the large one
        Assert.That(log.Frames().Single().ToArray(), Is.EqualTo(Enumerable.Repeat((byte)'e', 7)));
        log.Clear();
        Assert.That(log.Count, Is.Zero);
    }

    [Test]
    public void FromRedis_AnEntryWithoutANullSeq_IsRefused() =>
        Assert.Throws<FormatException>(() => _ = new LogFrame("{\"code\":0,\"seq\":\"s\"}"u8.ToArray(), 1, false));

    [Test]
    public void StreamIds_Are22UrlSafeCharacters_AndNeverRepeat()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => StreamIds.New()).ToList();
        Assert.That(ids, Has.All.Length.EqualTo(22).And.All.Matches<string>(StreamIds.IsValid));
        Assert.That(ids.Distinct().Count(), Is.EqualTo(ids.Count));
        Assert.That(StreamIds.IsValid("../etc"), Is.False);
        Assert.That(StreamIds.IsValid(new string('a', 65)), Is.False);
    }

    private static byte[] Bytes(OutgoingFrame frame)
    {
        try
        {
            return frame.Memory.ToArray();
        }
        finally
        {
            frame.Release();
        }
    }
}
