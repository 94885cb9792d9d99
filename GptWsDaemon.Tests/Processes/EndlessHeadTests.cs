using System.Globalization;
using System.Net.Sockets;
using System.Text;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// A request line with no end, sent to the real process on Kestrel: answered and cut after a few KiB, and the
/// daemon's resident memory stays where it was (HttpListener took it all: README "Exposing the daemon").
/// </summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed class EndlessHeadTests
{
    [Test, CancelAfter(60000)]
    public async Task EndlessRequestLine_KestrelProcess_CutAndRssFlat(CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync(["--engine", "kestrel", "--demo"], ct);
        var before = RssMiB(daemon.Pid);
        const int Total = 64 * 1024 * 1024;
        using var raw = await RawHttp.ConnectAsync(daemon.Port!.Value, ct);
        await raw.SendAsync("GET /", ct);
        var block = Encoding.ASCII.GetBytes(new string('a', 64 * 1024));
        var sent = 0;
        try
        {
            while (sent < Total)
            {
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
                stall.CancelAfter(TimeSpan.FromSeconds(3));
                await raw.Socket.SendAsync(block, SocketFlags.None, stall.Token);
                sent += block.Length;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
        }

        var head = await raw.ReadHeadAsync(ct);
        var after = RssMiB(daemon.Pid);
        TestContext.Out.WriteLine($"status {head.Status} after {sent / 1024} KiB sent; RSS {before:F1} → {after:F1} MiB");

        Assert.Multiple(() =>
        {
            Assert.That(head.Status, Is.EqualTo(414));
            Assert.That(sent, Is.LessThan(Total / 4), "cut long before the end");
            Assert.That(after - before, Is.LessThan(16), "the line was not taken into memory");
        });
    }

    private static double RssMiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
