using System.Net;
using System.Net.Sockets;
using System.Text;
using GptWsDaemon.Server;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// The daemon turns on the runtime's inline socket completions (one epoll thread per core running the token path)
/// unless the operator chose otherwise. Observed from outside: the runtime names its epoll threads ".NET Sockets",
/// and there is one per core when inline, one in all (below 45 cores) when not. Either way the daemon must stream.
/// </summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed class SocketEngineTests
{
    private const string Question = "Say something in two sentences, please.";

    [Test, CancelAfter(60000)]
    public async Task Default_InlineCompletions_OneEpollThreadPerCoreAndStreams(CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync([], ct);
        var threads = SocketThreads(daemon.Pid);
        var text = await ChatAsync(daemon, ct);

        Assert.Multiple(() =>
        {
            Assert.That(threads, Is.EqualTo(Environment.ProcessorCount), "epoll threads with inline completions");
            Assert.That(text, Is.EqualTo(DemoChat.Answer(Question)));
        });
    }

    [Test, CancelAfter(60000)]
    public async Task OperatorSaysZero_ThreadPoolDispatchKeptAndStreams(CancellationToken ct)
    {
        var environment = new Dictionary<string, string> { [SocketEngineTuning.Variable] = "0" };
        await using var daemon = await DaemonProcess.StartAsync([], ct, environment);
        var threads = SocketThreads(daemon.Pid);
        var text = await ChatAsync(daemon, ct);

        Assert.Multiple(() =>
        {
            Assert.That(threads, Is.EqualTo(Math.Max(1, (int)Math.Round(Environment.ProcessorCount / 30.0))), "epoll threads without inline completions");
            Assert.That(text, Is.EqualTo(DemoChat.Answer(Question)));
        });
    }

    [Test, CancelAfter(90000)]
    public async Task Inline_ClientsThatPipelineAndNeverRead_DoNotStallOthers(CancellationToken ct)
    {
        // With inline completions the epoll threads run the listener's own work; a client that fills the daemon's send
        // buffer (thousands of pipelined GET and HEAD requests, never reading the answers) must not stall the others.
        await using var daemon = await DaemonProcess.StartAsync([], ct);
        var flood = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nHEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 2000)));
        var abusers = new List<Socket>();
        try
        {
            for (var i = 0; i < 2 * Environment.ProcessorCount; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                abusers.Add(socket);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, daemon.Port!.Value), ct);
                using var sendWindow = CancellationTokenSource.CreateLinkedTokenSource(ct);
                sendWindow.CancelAfter(TimeSpan.FromSeconds(3));
                try
                {
                    await socket.SendAsync(flood, SocketFlags.None, sendWindow.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // The daemon stopped reading this one (its answers are not being read): that is the point.
                }
                catch (SocketException)
                {
                    // Or it dropped the connection: also fine.
                }
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            for (var i = 0; i < 4 * Environment.ProcessorCount; i++)
            {
                // New connections are spread over every epoll thread: each must still answer.
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(daemon.HttpUri, "/healthz")) { Headers = { ConnectionClose = true } };
                using var response = await http.SendAsync(request, ct);
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            }

            Assert.That(await ChatAsync(daemon, ct), Is.EqualTo(DemoChat.Answer(Question)));
        }
        finally
        {
            foreach (var socket in abusers)
            {
                socket.Dispose();
            }
        }
    }

    [TestCase(null, "1")]
    [TestCase("", "1")]
    [TestCase("0", null)]
    [TestCase("1", null)]
    public void ValueToSet_OnlyWhenTheOperatorSetNothing(string? current, string? expected) =>
        Assert.That(SocketEngineTuning.ValueToSet(current), Is.EqualTo(expected));

    private static int SocketThreads(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task")
            .Count(task => File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == ".NET Sockets");

    private static async Task<string> ChatAsync(DaemonProcess daemon, CancellationToken ct)
    {
        using var client = await WsTestClient.ConnectAsync(daemon.WsUri, ct);
        await client.SendAsync(DemoChat.Frame("1", Question), ct);
        var result = await client.ReadStreamAsync("1", ct);
        return result.Text;
    }
}
