using System.Text;
using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Server;
using GptWsDaemon.Text;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Server;

/// <summary>
/// A <see cref="StreamSession"/> driven without a socket, through <see cref="IStreamHost"/>: the frames it writes, in
/// order, one final frame, the slots given back before it, the end reported last.
/// </summary>
[Category("unit")]
[TestFixture]
public sealed class StreamSessionTests
{
    [TestCase(true)]
    [TestCase(false)]
    public async Task Run_WritesTheAnswerThenOneFinalFrame_ReleasesBeforeIt_FinishedLast(bool origin)
    {
        var parsed = (ClientCommand.Chat)new RequestParser(new DaemonSettings()).Parse(Encoding.UTF8.GetBytes("{\"seq\":\"u1\",\"data\":{\"query\":\"杭州？\",\"origin_stream\":" + (origin ? "true" : "false") + "}}"), 0);
        var host = new RecordingHost();
        using var session = new StreamSession(parsed.Request, new DemoUpstream(TimeSpan.Zero), host, new DaemonMetrics(), 0, new TtsLimits(), CancellationToken.None);

        await session.RunAsync();

        var frames = host.Events.Where(e => e.Frame is not null).Select(e => JsonDocument.Parse(e.Frame!).RootElement).ToList();
        var text = string.Concat(frames.SkipLast(1).Select(f => f.GetProperty("data").GetProperty("contents").GetString()));
        Assert.Multiple(() =>
        {
            Assert.That(text, Is.EqualTo(DemoUpstream.AnswerFor(parsed.Request)));
            Assert.That(frames[^1].GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
            Assert.That(frames.SkipLast(1).Select(f => f.GetProperty("data").GetProperty("finish_reason").ValueKind), Has.All.EqualTo(JsonValueKind.Null));
            Assert.That(frames.Select(f => f.GetProperty("seq").GetString()), Has.All.EqualTo("u1"));
            Assert.That(host.Events.Select(e => e.Kind).TakeLast(3), Is.EqualTo(new[] { "release", "frame", "finished" }), "seq freed before the final frame; the end reported last");
            Assert.That(frames.Count, origin ? Is.GreaterThan(20) : Is.LessThan(20), origin ? "one frame per token" : "one per sentence");
        });
    }

    [TestCase(100, true)]
    [TestCase(StreamSession.InlineStartChars + 1, false)]
    public async Task Run_StartsAShortRequestOnTheCallersThread_ALongOneOnThePool(int chars, bool inline)
    {
        var parsed = (ClientCommand.Chat)new RequestParser(new DaemonSettings()).Parse(Encoding.UTF8.GetBytes("{\"seq\":1,\"data\":{\"query\":\"" + new string('q', chars) + "\"}}"), 0);
        var upstream = new GatedUpstream();
        using var session = new StreamSession(parsed.Request, upstream, new RecordingHost(), new DaemonMetrics(), 0, new TtsLimits(), CancellationToken.None);

        GatedUpstream.InCaller = true;
        var run = session.RunAsync();
        GatedUpstream.InCaller = false;
        upstream.Gate.SetResult();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        // Under load a hop to the thread pool waits for a core; a long conversation's writing must not hold a socket thread.
        Assert.That(await upstream.StartedInCaller.Task.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(inline));
    }

    /// <summary>Records whether its stream began on the thread that called <see cref="StreamSession.RunAsync"/>, then waits for its gate.</summary>
    private sealed class GatedUpstream : IChatUpstream
    {
        [ThreadStatic]
        public static bool InCaller;

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> StartedInCaller { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "gated";

        public async IAsyncEnumerable<UpstreamChunk> StreamAsync(ChatRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            StartedInCaller.TrySetResult(InCaller);
            await Gate.Task.WaitAsync(cancellationToken);
            yield return new UpstreamChunk("ok".AsMemory(), "stop", null);
        }
    }

    private sealed class RecordingHost : IStreamHost
    {
        public List<(string Kind, string? Frame)> Events { get; } = [];

        public long Id => 7;

        public void Send(OutgoingFrame frame)
        {
            Events.Add(("frame", Encoding.UTF8.GetString(frame.Memory.Span)));
            frame.Release();
        }

        public void Release(StreamSession session) => Events.Add(("release", null));

        public void Finished(StreamSession session) => Events.Add(("finished", null));
    }
}
