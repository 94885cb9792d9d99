using System.Diagnostics;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="StreamDeadline"/>: the first-token and idle clocks of one upstream stream, on real time.</summary>
[TestFixture]
public sealed class StreamDeadlineTests
{
    [Test, CancelAfter(10000)]
    public async Task NoEvents_ExpiresAfterTheFirstSpan(CancellationToken ct)
    {
        using var deadline = new StreamDeadline(TimeSpan.FromMilliseconds(300), ct);
        var clock = Stopwatch.StartNew();

        await WaitCancelledAsync(deadline.Token, ct);

        Assert.Multiple(() =>
        {
            Assert.That(deadline.Expired, Is.True);
            Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(280)));
        });
    }

    [Test, CancelAfter(10000)]
    public async Task EventsCloserThanTheGap_KeepItAlivePastEveryEarlierDeadline(CancellationToken ct)
    {
        using var deadline = new StreamDeadline(TimeSpan.FromMilliseconds(300), ct);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 8; i++)
        {
            await Task.Delay(100, ct);
            deadline.Extend(TimeSpan.FromMilliseconds(300));
        }

        Assert.That(deadline.Token.IsCancellationRequested, Is.False, $"alive after {clock.ElapsedMilliseconds} ms of events 100 ms apart");
        var lastEvent = clock.Elapsed;

        await WaitCancelledAsync(deadline.Token, ct);

        Assert.Multiple(() =>
        {
            Assert.That(deadline.Expired, Is.True);
            Assert.That(clock.Elapsed - lastEvent, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(280)), "the whole gap after the last event");
        });
    }

    [Test, CancelAfter(10000)]
    public async Task ExtendToAnEarlierDeadline_ExpiresSooner(CancellationToken ct)
    {
        using var deadline = new StreamDeadline(TimeSpan.FromSeconds(30), ct);
        var clock = Stopwatch.StartNew();

        deadline.Extend(TimeSpan.FromMilliseconds(200));
        await WaitCancelledAsync(deadline.Token, ct);

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test, CancelAfter(10000)]
    public async Task OuterTokenCancelled_CancelsWithoutExpiring(CancellationToken ct)
    {
        using var outer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var deadline = new StreamDeadline(TimeSpan.FromSeconds(30), outer.Token);

        await outer.CancelAsync();

        Assert.Multiple(() =>
        {
            Assert.That(deadline.Token.IsCancellationRequested, Is.True);
            Assert.That(deadline.Expired, Is.False);
        });
    }

    [Test, CancelAfter(10000)]
    public async Task DisposedBeforeTheTimerFires_NothingThrows(CancellationToken ct)
    {
        var deadline = new StreamDeadline(TimeSpan.FromMilliseconds(50), ct);
        deadline.Extend(TimeSpan.FromMilliseconds(100));
        deadline.Dispose();

        await Task.Delay(300, ct);

        Assert.That(deadline.Expired, Is.False);
    }

    private static async Task WaitCancelledAsync(CancellationToken token, CancellationToken ct)
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (token.Register(() => fired.TrySetResult()))
        {
            await fired.Task.WaitAsync(ct);
        }
    }
}
