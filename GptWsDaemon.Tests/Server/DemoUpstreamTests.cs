using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Server;

/// <summary>The demo model: deterministic, and a long question costs it a short echo, not memory in proportion.</summary>
[NonParallelizable]
[Category("loopback")]
[TestFixture]
public sealed class DemoUpstreamTests
{
    private static ChatRequest Question(string text) =>
        new() { Seq = RequestSeq.FromString("x"), Model = "m", UpstreamModel = "m", Messages = [new ChatMessage("user", text)] };

    [Test]
    public void AnswerFor_LongQuestion_EchoesAtMost200CharsMarkedCut()
    {
        var answer = DemoUpstream.AnswerFor(Question(new string('问', 5000)));
        Assert.That(answer, Does.StartWith("你问的是：「" + new string('问', DemoUpstream.MaxEcho) + "…」。"));
        Assert.That(DemoUpstream.AnswerFor(Question("  short  ")), Does.StartWith("你问的是：「short」。"));
    }

    [Test]
    public void AnswerFor_CutInsideASurrogatePair_KeepsTheCharacterWhole()
    {
        var answer = DemoUpstream.AnswerFor(Question(new string('x', DemoUpstream.MaxEcho - 1) + "😀😀"));
        Assert.That(answer, Does.StartWith("你问的是：「" + new string('x', DemoUpstream.MaxEcho - 1) + "…」"));
    }

    [TestCase("杭州 is nice, isn't it? 🌸!", new[] { "杭", "州", " is", " nice", ",", " isn't", " it", "?", " 🌸", "!" })]
    [TestCase("", new string[0])]
    public void NextTokenAndCountTokens_CutLikeAModel(string text, string[] tokens)
    {
        var found = new List<string>();
        for (var i = 0; i < text.Length; i = DemoUpstream.NextToken(text, i))
        {
            found.Add(text[i..DemoUpstream.NextToken(text, i)]);
        }

        Assert.That(found, Is.EqualTo(tokens));
        Assert.That(DemoUpstream.CountTokens(text), Is.EqualTo(tokens.Length));
    }

    [Test, CancelAfter(60000)]
    public async Task OneMiBQuestion_StreamsTheCutEcho_ManagedMemoryDoesNotGrowWithIt(CancellationToken ct)
    {
        // "a." a million times over: the old demo made a string per token of the echoed question up front (~40 MB).
        var question = string.Concat(Enumerable.Repeat("a.", 512 * 1024));
        var frame = System.Text.Json.JsonSerializer.Serialize(new { seq = "big", data = new { query = question } });
        var warmup = frame.Replace("\"big\"", "\"warm\"", StringComparison.Ordinal);
        await using var daemon = await DaemonFixture.StartDemoAsync(s => s with { MaxMessageBytes = 4 * 1024 * 1024, DemoTokenDelay = TimeSpan.FromMilliseconds(5) });
        using var client = await daemon.ConnectAsync(ct);

        // A first big request grows whatever buffers a 1 MiB message needs; they are not what this test measures.
        await client.SendAsync(warmup, ct);
        Assert.That(await client.ReceiveAsync(ct), Is.Not.Null);
        await client.SendAsync(new { seq = "warm", action = "cancel" }, ct);
        Assert.That((await client.ReadStreamAsync("warm", ct)).FinishReason, Is.EqualTo("cancelled"));
        var before = GC.GetTotalMemory(forceFullCollection: true);

        await client.SendAsync(frame, ct);
        var first = await client.ReceiveAsync(ct);
        var during = GC.GetTotalMemory(forceFullCollection: true);
        TestContext.Out.WriteLine($"managed memory mid-stream grew by {(during - before) / 1024} KiB");
        Assert.That(during - before, Is.LessThan(16L * 1024 * 1024), "a 1 MiB question costs the stream a few KiB, not its size in tokens");

        var stream = await client.ReadStreamAsync("big", ct);
        GC.KeepAlive(question);
        GC.KeepAlive(frame);
        var expected = DemoUpstream.AnswerFor(Question(question));
        Assert.Multiple(() =>
        {
            Assert.That(first, Is.Not.Null);
            Assert.That(first!.Value.GetProperty("data").GetProperty("contents").GetString() + stream.Text, Is.EqualTo(expected));
            Assert.That(expected, Does.StartWith("你问的是：「" + question[..DemoUpstream.MaxEcho] + "…」。"), "the echo is cut");
            Assert.That(stream.FinishReason, Is.EqualTo("stop"));
        });
    }
}
