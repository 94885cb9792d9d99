using System.Diagnostics;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="StreamDeadline"/>: the first-token and idle clocks of one upstream stream, on real time.</summary>
[Category("unit")]
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
    public async Task ExtendPastTheTotalCap_ExpiresAtTheCap(CancellationToken ct)
    {
        using var deadline = new StreamDeadline(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(400), ct);
        var clock = Stopwatch.StartNew();

        // Events every 20 ms, each asking for 30 s more: the cap stands.
        while (!deadline.Token.IsCancellationRequested && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            deadline.Extend(TimeSpan.FromSeconds(30));
            await Task.Delay(20, ct);
        }

        Assert.Multiple(() =>
        {
            Assert.That(deadline.Expired, Is.True);
            Assert.That(deadline.CapReached, Is.True);
            Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(380)).And.LessThan(TimeSpan.FromSeconds(2)));
        });
    }

    [Test, CancelAfter(10000)]
    public async Task FirstSpanLongerThanTheCap_ExpiresAtTheCap(CancellationToken ct)
    {
        using var deadline = new StreamDeadline(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200), ct);
        var clock = Stopwatch.StartNew();

        await WaitCancelledAsync(deadline.Token, ct);

        Assert.That(deadline.CapReached, Is.True);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
    }

    [Test, CancelAfter(10000)]
    public async Task IdleGapBeforeTheCap_ExpiresButNotByTheCap(CancellationToken ct)
    {
        using var deadline = new StreamDeadline(TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(30), ct);

        await WaitCancelledAsync(deadline.Token, ct);

        Assert.That((deadline.Expired, deadline.CapReached), Is.EqualTo((true, false)));
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

    [Test, CancelAfter(20000)]
    public async Task SharedSweep_ExpiresExactlyTheDeadlinesThatPassed_AndForgetsDisposedOnes(CancellationToken ct)
    {
        using var sweep = new DeadlineSweep(TimeSpan.FromMilliseconds(20));
        var soon = Enumerable.Range(0, 500).Select(_ => new StreamDeadline(TimeSpan.FromMilliseconds(100), sweep, ct)).ToList();
        var late = Enumerable.Range(0, 500).Select(_ => new StreamDeadline(TimeSpan.FromSeconds(30), sweep, ct)).ToList();
        var disposed = new StreamDeadline(TimeSpan.FromMilliseconds(100), sweep, ct);
        disposed.Dispose();

        await Task.WhenAll(soon.Select(d => WaitCancelledAsync(d.Token, ct)));

        Assert.Multiple(() =>
        {
            Assert.That(soon.All(d => d.Expired), Is.True);
            Assert.That(late.Any(d => d.Token.IsCancellationRequested), Is.False);
            Assert.That(disposed.Expired, Is.False);
            Assert.That(sweep.Count, Is.EqualTo(500), "expired and disposed deadlines leave the list");
        });
        late.ForEach(d => d.Dispose());
        soon.ForEach(d => d.Dispose());
        Assert.That(sweep.Count, Is.Zero);
    }

    [Test, CancelAfter(10000)]
    public async Task SharedSweep_IdleThenNewDeadline_StillFires(CancellationToken ct)
    {
        using var sweep = new DeadlineSweep(TimeSpan.FromMilliseconds(20));
        using (var first = new StreamDeadline(TimeSpan.FromMilliseconds(30), sweep, ct))
        {
            await WaitCancelledAsync(first.Token, ct);
        }

        await Task.Delay(100, ct); // the sweep has found its list empty and stopped its timer

        using var second = new StreamDeadline(TimeSpan.FromMilliseconds(30), sweep, ct);
        await WaitCancelledAsync(second.Token, ct);
        Assert.That(second.Expired, Is.True);
    }

    [Test, CancelAfter(10000)]
    public async Task SharedSweep_DeadlinesPushedLaterByEvents_DoNotWakeItPerEvent(CancellationToken ct)
    {
        using var sweep = new DeadlineSweep(TimeSpan.FromMilliseconds(10));
        var streams = Enumerable.Range(0, 100).Select(_ => new StreamDeadline(TimeSpan.FromMilliseconds(400), sweep, ct)).ToList();

        // 600 ms of events 10 ms apart on every stream: 6,000 extensions, every deadline always 400 ms ahead.
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 600)
        {
            await Task.Delay(10, ct);
            streams.ForEach(d => d.Extend(TimeSpan.FromMilliseconds(400)));
        }

        Assert.Multiple(() =>
        {
            Assert.That(streams.Any(d => d.Token.IsCancellationRequested), Is.False);
            Assert.That(sweep.Sweeps, Is.LessThanOrEqualTo(3), "the timer fires about once per timeout, not per event");
        });
        await Task.WhenAll(streams.Select(d => WaitCancelledAsync(d.Token, ct)));
        Assert.That(streams.All(d => d.Expired), Is.True, "once the events stop, every deadline passes");
        streams.ForEach(d => d.Dispose());
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
