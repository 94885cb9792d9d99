using System.Globalization;
using System.Net;
using System.Net.Sockets;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// The real process under a low descriptor limit (prlimit, as ulimit -n): it reads the limit at startup, lowers its caps
/// to what the limit can hold, and with Kestrel stops accepting while the budget is spent, so 300 sockets that never
/// finish their head cannot bring it to EMFILE (where the runtime aborts the process). HttpListener cannot stop
/// accepting: its test pins that documented limit.
/// </summary>
[Category("process")]
[TestFixture]
[NonParallelizable]
public sealed class DescriptorLimitTests
{
    private const int Limit = 256;
    private const string Ini = "[openai]\ndemo = true\ndemo_token_delay_ms = 2\n";

    [Test, CancelAfter(120000)]
    public async Task OneByteSockets_KestrelUnderUlimit256_ProcessSurvivesIdleAndServesAgain(CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync(["--engine", "kestrel"], ct, ini: Ini, descriptorLimit: Limit);
        var port = daemon.Port!.Value;
        var sockets = await OpenOneByteSocketsAsync(port, 300, ct);
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        var cpu = await CpuSecondsOverAsync(daemon.Pid, TimeSpan.FromSeconds(2), ct);
        var alive = !daemon.HasExited;
        foreach (var s in sockets)
        {
            s.Dispose();
        }

        // Once the sockets are gone the daemon serves again: /healthz, then a whole stream.
        await daemon.WaitForHealthyAsync(port, ct);
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        await client.SendAsync(new { seq = "after", data = new { query = "still there?" } }, ct);
        var stream = await client.ReadStreamAsync("after", ct);

        Assert.Multiple(() =>
        {
            Assert.That(daemon.Stdout, Does.Contain($"descriptors: limit {Limit},"), "the limit is logged at startup");
            Assert.That(daemon.Stdout, Does.Contain("lowered to"), "max_connections = 10000 cannot fit in 256: lowered, with a warning");
            Assert.That(sockets, Has.Count.GreaterThan(250), "the kernel's backlog took the sockets the daemon did not accept");
            Assert.That(alive, Is.True, daemon.Describe());
            Assert.That(cpu, Is.LessThan(0.5), "not accepting is waiting, not spinning");
            Assert.That(stream.Final.GetProperty("code").GetInt32(), Is.EqualTo(0));
            Assert.That(daemon.Stderr, Does.Not.Contain("PAL_SEHException").And.Not.Contain("Too many open files"));
        });
    }

    [Test, CancelAfter(120000)]
    public async Task OneByteSockets_HttpListenerUnderUlimit256_AbortsOrServesNoOne(CancellationToken ct)
    {
        // README "Exposing the daemon": HttpListener accepts every socket it is offered, so descriptors run out. The
        // process then either aborts (the runtime on EMFILE, on some paths) or spins on its failing accept and serves
        // no one while the sockets stay. This pins that limit; exposed ports need Kestrel or nginx in front.
        await using var daemon = await DaemonProcess.StartAsync([], ct, ini: Ini, descriptorLimit: Limit);
        var port = daemon.Port!.Value;
        var sockets = await OpenOneByteSocketsAsync(port, 300, ct);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3), ct);
            if (daemon.HasExited)
            {
                Assert.That(daemon.ExitCode, Is.Not.EqualTo(0), daemon.Describe());
                return;
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
            Assert.That(
                async () => (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"), ct)).Dispose(),
                Throws.InstanceOf<TaskCanceledException>().Or.InstanceOf<HttpRequestException>(),
                "with every descriptor spent a new client is not served: " + daemon.Describe());
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }
    }

    /// <summary>Connects up to <paramref name="count"/> sockets (those the backlog takes within 2 s each) and sends one byte on each.</summary>
    private static async Task<List<Socket>> OpenOneByteSocketsAsync(int port, int count, CancellationToken ct)
    {
        var open = new List<Socket>();
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var connect = CancellationTokenSource.CreateLinkedTokenSource(ct);
                connect.CancelAfter(TimeSpan.FromSeconds(2));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), connect.Token);
                await socket.SendAsync("G"u8.ToArray(), SocketFlags.None, ct);
                open.Add(socket);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                socket.Dispose();
            }
        }

        return open;
    }

    /// <summary>User + system CPU seconds the process used over <paramref name="window"/> (/proc/PID/stat, 100 ticks a second).</summary>
    private static async Task<double> CpuSecondsOverAsync(int pid, TimeSpan window, CancellationToken ct)
    {
        static long Ticks(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }

        var before = Ticks(pid);
        await Task.Delay(window, ct);
        return (Ticks(pid) - before) / 100.0;
    }
}
