using System.Text.Json;
using GptWsDaemon.Tests.Server;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// protocol.md §4.5 across real processes: two daemons sharing a real <c>redis-server</c>, nginx from the shipped
/// deploy/nginx.conf in front. A client whose TCP connection drops mid-answer comes back through nginx to the other
/// instance and resumes there; an instance stopped (SIGTERM) while it holds a stream nobody reads leaves a final frame
/// in the log for the resumer.
/// </summary>
[NonParallelizable]
[Category("nginx")]
[TestFixture]
public sealed class ResumeScaleOutTests
{
    private static readonly string[] Deltas = [.. Enumerable.Range(0, 60).Select(i => i % 6 == 1 ? $"长{i}🚄 " : $"d{i} ")];

    [Test, CancelAfter(120000)]
    public async Task DroppedMidStream_ReconnectsThroughNginxToTheOtherInstance_ResumesByteExact(CancellationToken ct)
    {
        await using var redis = await RedisServer.StartAsync(ct);
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(40)));
        var (a, b) = await StartPairAsync(redis, upstream, ct);
        await using var first = a;
        await using var second = b;
        await using var nginx = await NginxStack.StartNginxAsync(first, second, ct);
        var fillers = new List<WsTestClient>();
        try
        {
            var client = await WsTestClient.ConnectAsync(nginx.WsUri, ct);
            var owner = await WhereAsync([first, second], [0, 0], ct);
            var other = owner == first ? second : first;
            await client.SendAsync(new { seq = "train", data = new { query = "q", resumable = true } }, ct);
            var before = await ResumeTests.ReadFramesAsync(client, 5, ct);
            client.Socket.Abort(); // the train enters a tunnel
            client.Dispose();

            var back = await ConnectThroughAsync(nginx, other, [first, second], fillers, ct);
            await back.SendAsync(new { seq = "train-2", action = "resume", stream_id = ResumeTests.StreamId(before[0]), after = ResumeTests.N(before[^1]) }, ct);
            var rest = await back.ReadStreamAsync("train-2", ct);
            fillers.Add(back);

            var all = before.Concat(rest.Frames).ToList();
            Assert.That(all.Select(ResumeTests.N), Is.EqualTo(Enumerable.Range(1, all.Count).Select(i => (long)i)), "n contiguous, no duplicate\n" + nginx.Describe());
            Assert.That(string.Concat(all.Select(ResumeTests.Contents)), Is.EqualTo(string.Concat(Deltas)), "byte-exact");
            Assert.That(all.Count(f => f.GetProperty("data").GetProperty("finish_reason").ValueKind != JsonValueKind.Null), Is.EqualTo(1), "exactly one final frame");
            Assert.That(rest.FinishReason, Is.EqualTo("stop"));
            Assert.That(upstream.Requests, Has.Count.EqualTo(1), "the answer was paid once");
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    [Test, CancelAfter(120000)]
    public async Task OwnerStoppedDuringTheHold_TheLogEndsWithAFinalFrame_AResumerOnTheOtherReceivesIt(CancellationToken ct)
    {
        await using var redis = await RedisServer.StartAsync(ct);
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(Deltas, TimeSpan.FromMilliseconds(100)));
        var (a, b) = await StartPairAsync(redis, upstream, ct);
        await using var owner = a;
        await using var other = b;

        var client = await WsTestClient.ConnectAsync(owner.WsUri, ct);
        await client.SendAsync(new { seq = 9, data = new { query = "q", resumable = true } }, ct);
        var before = await ResumeTests.ReadFramesAsync(client, 3, ct);
        client.Socket.Abort();
        client.Dispose();
        await Task.Delay(300, ct);
        await owner.SignalAsync("TERM", ct);
        Assert.That(await owner.WaitForExitAsync(TimeSpan.FromSeconds(30), ct), Is.Zero, owner.Describe());

        using var resumer = await WsTestClient.ConnectAsync(other.WsUri, ct);
        await resumer.SendAsync(new { seq = 10, action = "resume", stream_id = ResumeTests.StreamId(before[0]), after = 3 }, ct);
        var rest = await resumer.ReadStreamAsync("10", ct);

        var all = before.Concat(rest.Frames).ToList();
        Assert.That(rest.FinishReason, Is.EqualTo("cancelled"), other.Describe());
        Assert.That(all.Select(ResumeTests.N), Is.EqualTo(Enumerable.Range(1, all.Count).Select(i => (long)i)));
        Assert.That(string.Concat(Deltas), Does.StartWith(string.Concat(all.Select(ResumeTests.Contents))), "what was streamed before the stop, in order");
        await upstream.Requests[0].ClosedTask.WaitAsync(TimeSpan.FromSeconds(5), ct);
    }

    private static async Task<(DaemonProcess, DaemonProcess)> StartPairAsync(RedisServer redis, FakeOpenAiServer upstream, CancellationToken ct)
    {
        var ini = $"[server]\nshutdown_grace_seconds = 0\n[redis]\nurl = {redis.Url}\n";
        string[] args = ["--api-key", "sk-test-key-000000000000", "--base-url", upstream.BaseUrl];
        Task<DaemonProcess>[] starting = [DaemonProcess.StartAsync(args, ct, ini: ini), DaemonProcess.StartAsync(args, ct, ini: ini)];
        await Task.WhenAll(starting);
        return (await starting[0], await starting[1]);
    }

    /// <summary>
    /// A connection through nginx that lands on <paramref name="target"/>: one that lands on the other instance is kept
    /// open (in <paramref name="fillers"/>), so that least_conn sends the next one to the target.
    /// </summary>
    private static async Task<WsTestClient> ConnectThroughAsync(NginxProxy nginx, DaemonProcess target, DaemonProcess[] daemons, List<WsTestClient> fillers, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var counts = await Task.WhenAll(daemons.Select(d => ConnectionsAsync(d, ct)));
            var client = await WsTestClient.ConnectAsync(nginx.WsUri, ct);
            if (await WhereAsync(daemons, counts, ct) == target)
            {
                return client;
            }

            fillers.Add(client);
        }

        throw new AssertionException("nginx never sent a connection to the other instance\n" + nginx.Describe());
    }

    /// <summary>The daemon whose connection count rose above <paramref name="before"/>.</summary>
    private static async Task<DaemonProcess> WhereAsync(DaemonProcess[] daemons, int[] before, CancellationToken ct)
    {
        for (var i = 0; i < 100; i++)
        {
            for (var d = 0; d < daemons.Length; d++)
            {
                if (await ConnectionsAsync(daemons[d], ct) > before[d])
                {
                    return daemons[d];
                }
            }

            await Task.Delay(20, ct);
        }

        throw new AssertionException("no instance saw the new connection");
    }

    private static async Task<int> ConnectionsAsync(DaemonProcess daemon, CancellationToken ct)
    {
        using var http = new HttpClient();
        using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri(daemon.HttpUri, "/healthz"), ct));
        return json.RootElement.GetProperty("connections").GetInt32();
    }
}
