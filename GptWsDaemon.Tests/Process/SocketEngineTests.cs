using GptWsDaemon.Server;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// The daemon turns on the runtime's inline socket completions (one epoll thread per core running the token path)
/// unless the operator chose otherwise. Observed from outside: the runtime names its epoll threads ".NET Sockets",
/// and there is one per core when inline, one in all (below 45 cores) when not. Either way the daemon must stream.
/// </summary>
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
