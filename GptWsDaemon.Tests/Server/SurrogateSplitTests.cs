using System.Text;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// Providers that slice text by UTF-16 units send half a surrogate pair per delta (<c>"abcdef\ud83d"</c>, then
/// <c>"\ude00gh"</c>): valid JSON that must reach the client as the whole character, in both modes.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class SurrogateSplitTests
{
    private const string HighEnds = """data: {"choices":[{"index":0,"delta":{"content":"abcdef\ud83d"},"finish_reason":null}]}""" + "\n\n";
    private const string LowStarts = """data: {"choices":[{"index":0,"delta":{"content":"\ude00gh"},"finish_reason":null}]}""" + "\n\n";
    private const string Finish = """data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""" + "\n\n" + "data: [DONE]\n\n";

    private static object Ask(string seq, bool origin) => new { seq, data = new { query = "q", origin_stream = origin } };

    /// <summary>Writes each segment on its own, 50 ms apart, so that each reaches the daemon in a read of its own.</summary>
    private static FakeOpenAiServer Upstream(params string[] segments) => new(async (req, res) =>
    {
        await res.StartSseAsync();
        foreach (var segment in segments)
        {
            await res.WriteRawAsync(Encoding.UTF8.GetBytes(segment));
            await Task.Delay(50, res.Aborted);
        }
    });

    [Test, CancelAfter(20000)]
    public async Task PairSplitAcrossDeltas_OneRead_ClientGetsTheWholeCharacter([Values] bool origin, CancellationToken ct)
    {
        await using var upstream = Upstream(HighEnds + LowStarts + Finish);
        var stream = await RunAsync(upstream, origin, ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.Ok), stream.Message);
        Assert.That(Encoding.UTF8.GetBytes(stream.Text), Is.EqualTo(Encoding.UTF8.GetBytes("abcdef😀gh")), "what an SDK joining the deltas gets");
        if (origin)
        {
            Assert.That(Contents(stream), Is.EqualTo(new[] { "abcdef", "😀gh" }), "the high half waits for its partner");
        }
    }

    [Test, CancelAfter(20000)]
    public async Task PairSplitAcrossEventsInSeparateReads_ClientGetsTheWholeCharacter([Values] bool origin, CancellationToken ct)
    {
        // The first event ends exactly after the high surrogate's escape; the low one comes 50 ms later, in another read.
        await using var upstream = Upstream(HighEnds, LowStarts, Finish);
        var stream = await RunAsync(upstream, origin, ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.Ok), stream.Message);
        Assert.That(stream.Text, Is.EqualTo("abcdef😀gh"));
        Assert.That(Contents(stream).All(IsWholeUtf16), Is.True, "no frame carries half a character");
    }

    [Test, CancelAfter(20000)]
    public async Task UnpairedLowSurrogate_BecomesReplacementCharacter_StreamGoesOn([Values] bool origin, CancellationToken ct)
    {
        await using var upstream = Upstream(
            """data: {"choices":[{"delta":{"content":"x\udc00y"}}]}""" + "\n\n",
            """data: {"choices":[{"delta":{"content":"\ude00z"}}]}""" + "\n\n",
            Finish);
        var stream = await RunAsync(upstream, origin, ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.Ok), stream.Message);
        Assert.That(stream.Text, Is.EqualTo("x\uFFFDy\uFFFDz"));
    }

    [Test, CancelAfter(20000)]
    public async Task HighSurrogateAtTheEndOfTheStream_ReplacementFlushedBeforeTheFinalFrame([Values] bool origin, CancellationToken ct)
    {
        await using var upstream = Upstream("""data: {"choices":[{"delta":{"content":"end \ud83d"}}]}""" + "\n\n", Finish);
        var stream = await RunAsync(upstream, origin, ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.Ok), stream.Message);
            Assert.That(stream.FinishReason, Is.EqualTo("stop"));
            Assert.That(stream.Text, Is.EqualTo("end \uFFFD"), "never lost, never an error");
        });
    }

    [Test, CancelAfter(20000)]
    public async Task HighSurrogateThenBrokenStream_ReplacementDeliveredBeforeTheError(CancellationToken ct)
    {
        await using var upstream = Upstream("""data: {"choices":[{"delta":{"content":"cut \ud83d"}}]}""" + "\n\n");
        var stream = await RunAsync(upstream, true, ct);

        Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamBroken));
        Assert.That(stream.Text, Is.EqualTo("cut \uFFFD"));
    }

    private static async Task<StreamResult> RunAsync(FakeOpenAiServer upstream, bool origin, CancellationToken ct)
    {
        await using var daemon = await DaemonFixture.StartAsync(upstream);
        using var client = await daemon.ConnectAsync(ct);
        await client.SendAsync(Ask("s", origin), ct);
        return await client.ReadStreamAsync("s", ct);
    }

    private static string[] Contents(StreamResult stream) =>
        [.. stream.ContentFrames.Select(f => f.GetProperty("data").GetProperty("contents").GetString()!)];

    private static bool IsWholeUtf16(string s) => !s.Contains('\uFFFD') && Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)) == s;
}
