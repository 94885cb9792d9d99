using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// protocol.md §8 for real: "run N instances behind nginx". Two daemon processes (demo model) behind nginx started from the
/// shipped deploy/nginx.conf; many clients stream through it; one instance is SIGKILLed mid-stream; its clients must see
/// their socket close at once (not hang) while the survivor's streams finish and new clients still get through.
/// </summary>
[NonParallelizable]
[Category("nginx")]
[TestFixture]
public sealed class NginxScaleOutTests
{
    private const int Clients = 20;
    private const int StreamsPerClient = 2;
    private const int Latecomers = 10;
    private static readonly TimeSpan CloseDeadline = TimeSpan.FromSeconds(5);

    [Test, CancelAfter(180000)]
    public async Task ScaleOut_TwoInstancesOneKilledMidStream_OrphansClosedSurvivorServesNewClients(CancellationToken ct)
    {
        // ~150 tokens at 15 ms: a stream takes ~2.5 s, long enough to kill an instance in the middle of it.
        const string Ini = "[openai]\ndemo_token_delay_ms = 15\n";
        var (firstStarted, secondStarted) = await NginxStack.StartPairAsync(Ini, ct);
        await using var first = firstStarted;
        await using var second = secondStarted;
        await using var nginx = await NginxStack.StartNginxAsync(first, second, ct);
        var clients = new List<WsTestClient>();
        try
        {
            // 1. Many clients, several concurrent streams each, all through nginx: every answer exact.
            clients.AddRange(await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => WsTestClient.ConnectAsync(nginx.WsUri, ct))));
            var answers = await Task.WhenAll(clients.Select((c, i) => StreamManyAsync(c, i, ct)));
            Assert.That(answers.SelectMany(a => a), Has.All.Empty, "streams through nginx that went wrong\n" + nginx.Describe());

            // Both instances hold some of the connections.
            var held = new[] { await HealthAsync(first, ct), await HealthAsync(second, ct) };
            Assert.That(held.Sum(h => h.Connections), Is.EqualTo(Clients), "connections seen by the two instances");
            Assert.That(held, Has.All.Matches<(int Connections, int Streams)>(h => h.Connections > 0), "nginx sent every client to one instance");

            // 2. A long stream on every client; once each is under way, SIGKILL the first instance.
            const string Question = "如果服务器突然死掉会怎样？";
            var expected = DemoChat.Answer(Question);
            for (var i = 0; i < clients.Count; i++)
            {
                await clients[i].SendAsync(DemoChat.Frame(Seq(i, "long"), Question), ct);
            }

            var firstPieces = new string[clients.Count];
            for (var i = 0; i < clients.Count; i++)
            {
                var frame = await clients[i].ReceiveAsync(ct) ?? throw new AssertionException($"client {i} closed before the long stream started");
                firstPieces[i] = frame.GetProperty("data").GetProperty("contents").GetString()!;
            }

            first.KillHard();
            var killedAt = Stopwatch.StartNew();
            var outcomes = await Task.WhenAll(clients.Select((c, i) => FinishAfterKillAsync(c, Seq(i, "long"), killedAt, ct)));

            var orphans = outcomes.Where(o => o.Closed).ToList();
            var survivors = outcomes.Where(o => !o.Closed).ToList();
            await TestContext.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"clients per instance {held[0].Connections}/{held[1].Connections}; orphans closed within {orphans.Select(o => o.After.TotalMilliseconds).DefaultIfEmpty().Max():0} ms of the kill ({orphans.FirstOrDefault()?.Error})"));
            Assert.Multiple(() =>
            {
                Assert.That(orphans, Has.Count.EqualTo(held[0].Connections), "clients whose socket closed = clients of the killed instance");
                Assert.That(survivors, Has.Count.EqualTo(held[1].Connections), "clients whose stream finished = clients of the survivor");
                Assert.That(orphans.Select(o => o.After), Has.All.LessThan(CloseDeadline), "an orphaned client waited too long for its close");
                Assert.That(outcomes.Where(o => o.Hung), Is.Empty, "clients left hanging after the kill");
                foreach (var s in survivors)
                {
                    Assert.That(s.Finish, Is.EqualTo("stop"), s.Error);
                    Assert.That(firstPieces[s.Index] + s.Text, Is.EqualTo(expected), $"client {s.Index}");
                }
            });

            // 3. New clients still get through, all to the survivor: nginx skips the dead instance (proxy_next_upstream error).
            var late = await Task.WhenAll(Enumerable.Range(0, Latecomers).Select(i => LateClientAsync(nginx, i, ct)));
            clients.AddRange(late.Select(l => l.Client).OfType<WsTestClient>());
            Assert.That(late.Select(l => l.Problem), Has.All.Empty, "new clients after the kill\n" + nginx.Describe());
            var survivor = await HealthAsync(second, ct);
            Assert.That(survivor.Connections, Is.EqualTo(held[1].Connections + Latecomers), "connections on the survivor: its own clients and every latecomer");
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }
        }
    }

    [Test, CancelAfter(120000)]
    public async Task ScaleOut_OneInstanceDraining_NewClientsServedByTheOther(CancellationToken ct)
    {
        // Slow tokens and a long grace: the first instance stays draining for the whole test (a rolling restart).
        const string Ini = "[openai]\ndemo_token_delay_ms = 100\n[server]\nshutdown_grace_seconds = 60\n";
        var (drainingStarted, otherStarted) = await NginxStack.StartPairAsync(Ini, ct);
        await using var draining = drainingStarted;
        await using var other = otherStarted;
        await using var nginx = await NginxStack.StartNginxAsync(draining, other, ct);

        // A stream straight to the first instance keeps it draining after SIGTERM; nginx does not count it, so
        // least_conn would pick that instance first for every newcomer.
        using var holder = await WsTestClient.ConnectAsync(draining.WsUri, ct);
        await holder.SendAsync(DemoChat.Frame("held", "慢慢说"), ct);
        Assert.That(await holder.ReceiveAsync(ct), Is.Not.Null);
        await draining.SignalAsync("TERM", ct);
        while ((await HealthBodyAsync(draining, ct)).Contains("\"status\":\"ok\"", StringComparison.Ordinal))
        {
            await Task.Delay(20, ct);
        }

        // New clients through nginx: the draining instance answers 503, nginx (proxy_next_upstream http_503) moves on.
        var newcomers = new List<WsTestClient>();
        var problems = new List<string>();
        try
        {
            for (var i = 0; i < Latecomers; i++)
            {
                try
                {
                    var client = await WsTestClient.ConnectAsync(nginx.WsUri, ct);
                    newcomers.Add(client);
                    await client.SendAsync(new { action = "ping" }, ct);
                    var pong = await client.ReceiveAsync(ct);
                    if (pong?.GetProperty("msg").GetString() != "pong")
                    {
                        problems.Add($"newcomer {i}: no pong");
                    }
                }
                catch (WebSocketException e)
                {
                    problems.Add($"newcomer {i}: {e.Message}");
                }
            }

            var health = await HealthAsync(other, ct);
            Assert.Multiple(() =>
            {
                Assert.That(problems, Is.Empty, "newcomers refused while one instance drains\n" + nginx.Describe());
                Assert.That(health.Connections, Is.EqualTo(Latecomers), "newcomers on the instance that is not draining");
                Assert.That(draining.HasExited, Is.False, "the draining instance should still be finishing its stream");
            });
        }
        finally
        {
            foreach (var c in newcomers)
            {
                c.Dispose();
            }
        }
    }

    private static string Seq(int client, string what) => string.Create(CultureInfo.InvariantCulture, $"c{client}-{what}");

    /// <summary>Starts <see cref="StreamsPerClient"/> streams at once on one client; returns what went wrong (empty when all is well).</summary>
    private static async Task<List<string>> StreamManyAsync(WsTestClient client, int index, CancellationToken ct)
    {
        var problems = new List<string>();
        var questions = Enumerable.Range(0, StreamsPerClient).Select(s => string.Create(CultureInfo.InvariantCulture, $"客户 {index} 的第 {s} 个问题")).ToList();
        for (var s = 0; s < questions.Count; s++)
        {
            await client.SendAsync(DemoChat.Frame(Seq(index, "s" + s), questions[s]), ct);
        }

        for (var s = 0; s < questions.Count; s++)
        {
            var result = await client.ReadStreamAsync(Seq(index, "s" + s), ct);
            if (result.Code != 0 || result.FinishReason != "stop" || result.Text != DemoChat.Answer(questions[s]))
            {
                problems.Add($"{Seq(index, "s" + s)}: code {result.Code}, finish {result.FinishReason}, text {result.Text}");
            }
        }

        return problems;
    }

    /// <summary>Reads the rest of a stream after the kill: it either finishes, or the socket closes under it.</summary>
    private static async Task<StreamOutcome> FinishAfterKillAsync(WsTestClient client, string seq, Stopwatch killedAt, CancellationToken ct)
    {
        var index = int.Parse(seq[1..seq.IndexOf('-', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
        using var hang = CancellationTokenSource.CreateLinkedTokenSource(ct);
        hang.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            var result = await client.ReadStreamAsync(seq, hang.Token);
            return new StreamOutcome(index, false, false, killedAt.Elapsed, result.FinishReason, result.Text, null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new StreamOutcome(index, false, true, killedAt.Elapsed, null, null, "no frame and no close for 30 s");
        }
        catch (Exception e) when (e is WebSocketException or InvalidOperationException)
        {
            // WebSocketException: nginx closed the TCP connection; InvalidOperationException: a close frame came first.
            return new StreamOutcome(index, true, false, killedAt.Elapsed, null, null, e.Message);
        }
    }

    /// <summary>A client that connects after the kill and streams one answer; returns it (still open) and what went wrong, or empty.</summary>
    private static async Task<(WsTestClient? Client, string Problem)> LateClientAsync(NginxProxy nginx, int index, CancellationToken ct)
    {
        var question = string.Create(CultureInfo.InvariantCulture, $"后来的客户 {index}");
        WsTestClient? client = null;
        try
        {
            client = await WsTestClient.ConnectAsync(nginx.WsUri, ct);
            await client.SendAsync(DemoChat.Frame("late", question), ct);
            var result = await client.ReadStreamAsync("late", ct);
            return result.FinishReason == "stop" && result.Text == DemoChat.Answer(question)
                ? (client, string.Empty)
                : (client, $"late {index}: finish {result.FinishReason}, text {result.Text}");
        }
        catch (Exception e) when (e is WebSocketException or InvalidOperationException)
        {
            return (client, $"late {index}: {e.Message}");
        }
    }

    private static async Task<string> HealthBodyAsync(DaemonProcess daemon, CancellationToken ct)
    {
        // A draining daemon answers 503 with the same JSON body.
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(daemon.HttpUri, "/healthz"), ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    private static async Task<(int Connections, int Streams)> HealthAsync(DaemonProcess daemon, CancellationToken ct)
    {
        using var json = JsonDocument.Parse(await HealthBodyAsync(daemon, ct));
        return (json.RootElement.GetProperty("connections").GetInt32(), json.RootElement.GetProperty("streams").GetInt32());
    }
}
