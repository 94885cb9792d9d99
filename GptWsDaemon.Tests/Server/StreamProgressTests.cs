using System.Diagnostics;
using System.Text;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// What keeps an upstream stream alive: only content (or the finish) moves the idle clock, and however steadily content
/// flows, <c>openai.max_stream_seconds</c> ends the stream.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class StreamProgressTests
{
    private static object Ask(string seq) => new { seq, data = new { query = "q" } };

    [TestCase("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":null}]}\n\n")]
    [TestCase("data: {\"choices\":[]}\n\n")]
    [TestCase(": keep-alive\n\n")]
    [TestCase("data:\n\n")]
    [CancelAfter(20000)]
    public async Task EmptyEventsEvery50msAfterOneToken_EndWithIdleTimeout(string empty, CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            await res.SendChunkAsync("only token", false);
            while (true)
            {
                await Task.Delay(50, res.Aborted);
                await res.WriteRawAsync(Encoding.UTF8.GetBytes(empty));
            }
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with { UpstreamIdleTimeout = TimeSpan.FromSeconds(1) });
        using var client = await daemon.ConnectAsync(ct);

        var clock = Stopwatch.StartNew();
        await client.SendAsync(Ask("k"), ct);
        var stream = await client.ReadStreamAsync("k", ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Text, Is.EqualTo("only token"));
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamTimeout));
            Assert.That(stream.Message, Does.Contain("no content for 1 s"));
            Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(0.9)).And.LessThan(TimeSpan.FromSeconds(2)), "the empty events did not extend it");
        });
    }

    [Test, CancelAfter(20000)]
    public async Task SteadyContentPastMaxStreamSeconds_EndsWith2004AtTheCap_ContentDelivered(CancellationToken ct)
    {
        var sent = 0;
        await using var upstream = new FakeOpenAiServer(async (req, res) =>
        {
            await res.StartSseAsync();
            for (var i = 0; ; i++)
            {
                await res.SendChunkAsync($"t{i} ", false);
                Interlocked.Increment(ref sent);
                await Task.Delay(50, res.Aborted);
            }
        });
        await using var daemon = await DaemonFixture.StartAsync(upstream, s => s with
        {
            MaxStreamDuration = TimeSpan.FromSeconds(2),
            UpstreamIdleTimeout = TimeSpan.FromSeconds(1),
            FirstTokenTimeout = TimeSpan.FromSeconds(10),
        });
        using var client = await daemon.ConnectAsync(ct);

        var clock = Stopwatch.StartNew();
        await client.SendAsync(Ask("cap"), ct);
        var stream = await client.ReadStreamAsync("cap", ct);
        var elapsed = clock.Elapsed;
        var closed = await upstream.Requests[0].ClosedTask.WaitAsync(TimeSpan.FromSeconds(2), ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(ErrorCodes.UpstreamTimeout));
            Assert.That(stream.Message, Does.Contain("max_stream_seconds").And.Contain("2 s"));
            Assert.That(elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.9)).And.LessThan(TimeSpan.FromSeconds(3.5)));
            Assert.That(stream.Text, Does.StartWith("t0 t1 t2 "), "content before the cap is delivered");
            Assert.That(stream.ContentFrames.Count(), Is.GreaterThan(20));
            Assert.That(closed, Is.Not.EqualTo(default(DateTime)), "the upstream request is closed");
        });
    }
}
