using System.Net.WebSockets;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// protocol.md §2.3 "Quotas" across real processes: two daemons sharing a real <c>redis-server</c> hold one limit
/// between them; a Redis that is down lets requests pass or refuses them per <c>quota.on_store_error</c>; the tokens
/// file re-read on SIGHUP without dropping a connection.
/// </summary>
[Category("process")]
[TestFixture]
public sealed class QuotaSharingTests
{
    private const string Alice = "tok-alice-00000001";

    [Test, CancelAfter(90000)]
    public async Task TwoInstancesOneRedis_RequestsPerMinute10_TheEleventhRefusedOnEither(CancellationToken ct)
    {
        await using var redis = await RedisServer.StartAsync(ct);
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        var ini = $"[server]\naccess_tokens = alice:{Alice}\n[quota]\nrequests_per_minute = 10\n[redis]\nurl = {redis.Url}\n";
        string[] args = ["--api-key", "sk-test-key-000000000000", "--base-url", upstream.BaseUrl];
        await using var a = await DaemonProcess.StartAsync(args, ct, ini: ini);
        await using var b = await DaemonProcess.StartAsync(args, ct, ini: ini);
        await a.WaitForStdoutAsync("quotas: counters in redis", TimeSpan.FromSeconds(10), ct);

        // A minute that turns during the test would reset the window: start early in one.
        if (DateTime.UtcNow.Second > 45)
        {
            await Task.Delay(TimeSpan.FromSeconds(61 - DateTime.UtcNow.Second), ct);
        }

        using var onA = await WsTestClient.ConnectAsync(a.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + Alice));
        using var onB = await WsTestClient.ConnectAsync(b.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + Alice));
        var codes = new List<(string, int)>();
        for (var i = 0; i < 12; i++)
        {
            var client = i % 2 == 0 ? onA : onB;
            await client.SendAsync(new { seq = "r" + i, data = new { query = "q" } }, ct);
            var stream = await client.ReadStreamAsync("r" + i, ct);
            codes.Add((i % 2 == 0 ? "a" : "b", stream.Code));
        }

        Assert.Multiple(() =>
        {
            Assert.That(codes.Take(10).Select(c => c.Item2), Has.All.Zero, a.Describe() + b.Describe());
            Assert.That(codes.Skip(10), Is.EqualTo(new[] { ("a", ErrorCodes.QuotaExceeded), ("b", ErrorCodes.QuotaExceeded) }), "the limit holds across both instances");
            Assert.That(upstream.Requests, Has.Count.EqualTo(10));
        });
    }

    [TestCase("open", 0)]
    [TestCase("closed", ErrorCodes.QuotaExceeded)]
    [CancelAfter(60000)]
    public async Task RedisDown_OnStoreError_OpenPassesClosedRefuses(string mode, int code, CancellationToken ct)
    {
        await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
        var ini = $"[server]\naccess_tokens = alice:{Alice}\n[quota]\nrequests_per_minute = 10\non_store_error = {mode}\n[redis]\nurl = redis://127.0.0.1:{DaemonFixture.FreePort()}\n";
        await using var daemon = await DaemonProcess.StartAsync(["--api-key", "sk-test-key-000000000000", "--base-url", upstream.BaseUrl], ct, ini: ini);
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + Alice));
        await client.SendAsync(new { seq = "s", data = new { query = "q" } }, ct);
        var stream = await client.ReadStreamAsync("s", ct);
        await daemon.WaitForStdoutAsync("quota store redis failed", TimeSpan.FromSeconds(10), ct);

        Assert.Multiple(() =>
        {
            Assert.That(stream.Code, Is.EqualTo(code), stream.Message);
            Assert.That(upstream.Requests, Has.Count.EqualTo(code == 0 ? 1 : 0));
            if (code != 0)
            {
                Assert.That(stream.Message, Does.Contain("quota store is unavailable"));
            }
        });
    }

    [Test, CancelAfter(60000)]
    public async Task TokensFile_ReloadedOnSigHup_OpenConnectionsStay_NewTokensOnly(CancellationToken ct)
    {
        const string Bob = "tok-bob-000000000002";
        var file = Path.Combine(Path.GetTempPath(), "gptws-tokens-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(file, $"# name token\nalice {Alice}\n", ct);
        try
        {
            await using var upstream = new FakeOpenAiServer(FakeOpenAiServer.Streams(["ok"]));
            await using var daemon = await DaemonProcess.StartAsync(["--api-key", "sk-test-key-000000000000", "--base-url", upstream.BaseUrl], ct, ini: $"[server]\naccess_tokens_file = {file}\n");
            using var alice = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + Alice));

            await File.WriteAllTextAsync(file, $"bob {Bob}\n", ct);
            await daemon.SignalAsync("HUP", ct);
            await daemon.WaitForStdoutAsync("SIGHUP: 1 access tokens", TimeSpan.FromSeconds(10), ct);

            await alice.SendAsync(new { seq = "still", data = new { query = "q" } }, ct);
            var still = await alice.ReadStreamAsync("still", ct);
            var aliceAgain = Assert.ThrowsAsync<WebSocketException>(() => WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + Alice)));
            using var bob = await WsTestClient.ConnectAsync(daemon.WsUri, ct, o => o.SetRequestHeader("Authorization", "Bearer " + Bob));
            await bob.SendAsync(new { seq = "b", data = new { query = "q" } }, ct);
            var bobs = await bob.ReadStreamAsync("b", ct);

            Assert.Multiple(() =>
            {
                Assert.That(still.Code, Is.Zero, "a connection open before the reload keeps working");
                Assert.That(aliceAgain, Is.Not.Null, "alice's token is gone for new connections");
                Assert.That(bobs.Code, Is.Zero);
                Assert.That(daemon.Stdout, Does.Contain("SIGHUP: 1 access tokens from " + file + " (bob)"));
                Assert.That(daemon.Stdout + daemon.ReadLogFile(), Does.Not.Contain(Bob).And.Not.Contain(Alice));
                Assert.That(daemon.HasExited, Is.False);
            });
        }
        finally
        {
            File.Delete(file);
        }
    }
}
