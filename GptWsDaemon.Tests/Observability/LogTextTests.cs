using GptWsDaemon.Observability;

namespace GptWsDaemon.Tests.Observability;

/// <summary><see cref="LogText"/> and <see cref="LogThrottle"/>: client values that cannot break a line, refusals that cannot flood.</summary>
[Category("unit")]
[TestFixture]
public sealed class LogTextTests
{
    [TestCase("plain-seq_1", "plain-seq_1")]
    [TestCase("a\nb", "a\\u000ab")]
    [TestCase("a\r\nb", "a\\u000d\\u000ab")]
    [TestCase("tab\there", "tab\\u0009here")]
    [TestCase("nel\u0085ls\u2028ps\u2029", "nel\\u0085ls\\u2028ps\\u2029")]
    [TestCase("del\u007f", "del\\u007f")]
    [TestCase("杭州😀", "杭州😀")]
    public void Client_ControlCharacters_EscapedOthersKept(string value, string expected) =>
        Assert.That(LogText.Client(value), Is.EqualTo(expected));

    [Test]
    public void Client_LongValue_CutWithMarker()
    {
        var logged = LogText.Client(new string('x', 5000), 100);
        Assert.That(logged, Is.EqualTo(new string('x', 100) + "…(5000 chars)"));
    }

    [Test]
    public void Client_Null_IsDash() => Assert.That(LogText.Client(null), Is.EqualTo("-"));

    [Test]
    public void Client_NothingToEscape_ReturnsTheSameString()
    {
        var value = "gpt-4o-mini";
        Assert.That(LogText.Client(value), Is.SameAs(value));
    }

    [Test]
    public void Throttle_AfterBurst_SuppressesAndSummarisesOncePerInterval()
    {
        long counted = 0;
        long now = 0;
        var throttle = new LogThrottle(3, TimeSpan.FromSeconds(10), n => counted += n, () => now);
        var written = Enumerable.Range(0, 3).Count(_ => throttle.TryWrite(out long _));
        var first = throttle.TryWrite(out var noSummaryYet);
        now += System.Diagnostics.Stopwatch.Frequency * 11; // past the interval
        throttle.TryWrite(out var summary);

        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(3));
            Assert.That(first, Is.False);
            Assert.That(noSummaryYet, Is.Zero, "the first suppressed line starts the interval");
            Assert.That(summary, Is.EqualTo(2), "both suppressed lines, once the interval passed");
            Assert.That(counted, Is.EqualTo(2), "each suppressed line counted for the metric");
            Assert.That(throttle.Pending, Is.Zero);
        });
    }
}
