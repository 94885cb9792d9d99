using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Tests.Upstream;

/// <summary><see cref="KeyPool"/>: rotation, benching and coming back, with a clock the test moves.</summary>
[Category("unit")]
[TestFixture]
public sealed class KeyPoolTests
{
    [Test]
    public void Take_RotatesOverKeys_SkipsBenchedAndTried_BackWhenBenchEnds()
    {
        var clock = new ManualClock();
        var benched = new List<KeyPool.BenchReason>();
        var pool = new KeyPool("p", ApiKey.Mask(["sk-aaaa-00000001", "sk-bbbb-00000002", "sk-cccc-00000003"]), clock, benched.Add);

        var firstRound = Enumerable.Range(0, 6).Select(_ => { ulong tried = 0; return pool.Take(ref tried); }).ToList();
        pool.Bench(1, TimeSpan.FromSeconds(30), KeyPool.BenchReason.RateLimited);
        pool.Bench(1, TimeSpan.FromSeconds(10), KeyPool.BenchReason.RateLimited); // shorter: the longer bench stays
        var whileBenched = Enumerable.Range(0, 6).Select(_ => { ulong tried = 0; return pool.Take(ref tried); }).ToList();
        ulong all = 0;
        var a = pool.Take(ref all);
        var b = pool.Take(ref all);
        var none = pool.Take(ref all);
        clock.Advance(TimeSpan.FromSeconds(29));
        var stillOut = pool.UntilFirstBack();
        var states = pool.States();
        clock.Advance(TimeSpan.FromSeconds(2));
        var back = Enumerable.Range(0, 3).Select(_ => { ulong tried = 0; return pool.Take(ref tried); }).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(firstRound.Order(), Is.EqualTo(new[] { 0, 0, 1, 1, 2, 2 }), "each key serves in turn");
            Assert.That(whileBenched, Has.None.EqualTo(1));
            Assert.That(new[] { a, b }.Order(), Is.EqualTo(new[] { 0, 2 }));
            Assert.That(none, Is.EqualTo(-1), "every key in service already tried by this request");
            Assert.That(stillOut, Is.EqualTo(TimeSpan.Zero), "keys 0 and 2 are in service");
            Assert.That(states[1].Reason, Is.EqualTo(KeyPool.BenchReason.RateLimited));
            Assert.That(states[1].Until, Is.EqualTo(clock.Start + TimeSpan.FromSeconds(30)));
            Assert.That(states[0].Until, Is.Null);
            Assert.That(back.Order(), Is.EqualTo(new[] { 0, 1, 2 }), "back in service once its bench ends");
            Assert.That(benched, Has.Count.EqualTo(1), "the shorter bench changed nothing and was not counted");
        });
    }

    [Test]
    public void UntilFirstBack_AllBenched_TheEarliestReturn()
    {
        var clock = new ManualClock();
        var pool = new KeyPool("p", ApiKey.Mask(["sk-aaaa-00000001", "sk-bbbb-00000002"]), clock);
        pool.Bench(0, TimeSpan.FromSeconds(600), KeyPool.BenchReason.Refused);
        pool.Bench(1, TimeSpan.FromSeconds(5), KeyPool.BenchReason.RateLimited);
        ulong tried = 0;
        Assert.That((pool.Take(ref tried), pool.UntilFirstBack()), Is.EqualTo((-1, TimeSpan.FromSeconds(5))));
    }

    [TestCase(new[] { "sk-proj-abcdefgh1234" }, new[] { "…1234" })]
    [TestCase(new[] { "short-k9" }, new[] { "…k9" })]
    [TestCase(new[] { "sk-one-0000001234", "sk-two-0000001234" }, new[] { "…1234", "…1234#2" })]
    public void Mask_LastCharactersOnly_UniqueWithinProvider(string[] keys, string[] ids)
    {
        var masked = ApiKey.Mask(keys);
        Assert.Multiple(() =>
        {
            Assert.That(masked.Select(k => k.Id), Is.EqualTo(ids));
            Assert.That(masked.Select(k => k.ToString()), Is.EqualTo(ids), "formatting a key by mistake prints its id");
        });
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

        public DateTimeOffset Start { get; } = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan span) => _now += span;
    }
}
