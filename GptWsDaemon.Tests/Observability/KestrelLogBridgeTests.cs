using GptWsDaemon.Observability;
using GptWsDaemon.Tests.Support;
using Microsoft.Extensions.Logging;

namespace GptWsDaemon.Tests.Observability;

/// <summary><see cref="KestrelLogBridge"/>: Kestrel's warnings and errors reach the daemon's log, escaped; its chatter does not.</summary>
[Category("unit")]
[NonParallelizable]
[TestFixture]
public sealed class KestrelLogBridgeTests
{
    [Test, CancelAfter(10000)]
    public async Task Warning_WithALineBreak_LoggedEscaped(CancellationToken ct)
    {
        using var watch = new LogWatch("heartbeat slow");
        var logger = new KestrelLogBridge().CreateLogger("Microsoft.AspNetCore.Server.Kestrel");
        logger.LogWarning("heartbeat slow\nFORGED line");
        await watch.Seen.WaitAsync(ct);

        Assert.That(watch.Line, Is.EqualTo("heartbeat slow\\u000aFORGED line"));
    }

    [Test]
    public void DebugAndInformation_NotEnabled()
    {
        var logger = new KestrelLogBridge().CreateLogger("Kestrel");
        Assert.Multiple(() =>
        {
            Assert.That(logger.IsEnabled(LogLevel.Debug), Is.False);
            Assert.That(logger.IsEnabled(LogLevel.Information), Is.False);
            Assert.That(logger.IsEnabled(LogLevel.Warning), Is.True);
            Assert.That(logger.IsEnabled(LogLevel.Critical), Is.True);
        });
    }
}
