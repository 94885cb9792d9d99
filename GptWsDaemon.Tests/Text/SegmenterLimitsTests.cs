using GptWsDaemon.Text;
using NUnit.Framework;

namespace GptWsDaemon.Tests.Text;

/// <summary>minChars merging and the maxPieceChars cap.</summary>
[Category("unit")]
[TestFixture]
public sealed class SegmenterLimitsTests
{
    [Test]
    public void Append_ShortSentences_MergedUntilMinChars()
    {
        var pieces = SegmenterDriver.Whole("Hi. Yo. This is long. Ok.", SegmentMode.Sentence, minChars: 5);

        Assert.That(pieces, Is.EqualTo(new[] { "Hi. Yo. ", "This is long. ", "Ok." }));
    }

    [Test]
    public void Append_ShortClauses_MergedAndShortTailStillEmitted()
    {
        var pieces = SegmenterDriver.Whole("好，的，我们走吧，再见。", SegmentMode.Clause, minChars: 4);

        Assert.That(pieces, Is.EqualTo(new[] { "好，的，", "我们走吧，", "再见。" }));
    }

    [Test]
    public void Complete_ShortTail_EmittedAlone()
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence, minChars: 100);
        segmenter.Append("Short.");
        Assert.That(segmenter.TryTake(out _), Is.False);
        segmenter.Complete();
        Assert.That(segmenter.TryTake(out var tail), Is.True);
        Assert.That(tail, Is.EqualTo("Short."));
    }

    [Test]
    public void Append_NoBoundaryNoSpace_CutAtCap()
    {
        var pieces = SegmenterDriver.Whole("abcdefghijklmnopqrstuvwxyz", SegmentMode.Sentence, maxPieceChars: 10);

        Assert.That(pieces, Is.EqualTo(new[] { "abcdefghij", "klmnopqrst", "uvwxyz" }));
    }

    [Test]
    public void Append_NoBoundaryWithSpaces_CutAfterLastSpaceBeforeCap()
    {
        var pieces = SegmenterDriver.Whole("aaaa bbbb cccc dddd", SegmentMode.Sentence, maxPieceChars: 12);

        Assert.That(pieces, Is.EqualTo(new[] { "aaaa bbbb ", "cccc dddd" }));
    }

    [Test]
    public void Append_EmojiAtCap_SurrogatePairNeverSplit()
    {
        var text = string.Concat(Enumerable.Repeat("😀", 10));
        foreach (var max in new[] { 1, 2, 3, 5 })
        {
            var expected = SegmenterDriver.Whole(text, SegmentMode.Sentence, maxPieceChars: max);
            Assert.That(string.Concat(expected), Is.EqualTo(text));
            Assert.That(expected, Has.All.Matches<string>(p => !char.IsHighSurrogate(p[^1]) && !char.IsLowSurrogate(p[0])), $"max {max}");
            Assert.That(expected, Has.All.Matches<string>(p => p.Length <= Math.Max(max, 2)), $"max {max}");
            for (var seed = 1; seed <= 3; seed++)
            {
                Assert.That(SegmenterDriver.Chunked(text, SegmentMode.Sentence, new Random(seed), 3, maxPieceChars: max), Is.EqualTo(expected));
            }
        }
    }

    [Test]
    public void Append_LongFence_CappedThenClosesNormally()
    {
        var code = string.Concat(Enumerable.Repeat("x = 1. Y!\n", 5));
        var text = "```\n" + code + "```\nAfter. Done.";
        var pieces = SegmenterDriver.Whole(text, SegmentMode.Sentence, maxPieceChars: 20);

        Assert.That(string.Concat(pieces), Is.EqualTo(text));
        Assert.That(pieces, Has.All.Matches<string>(p => p.Length <= 20));
        Assert.That(pieces[^3], Does.EndWith("```\n"));
        Assert.That(pieces[^2..], Is.EqualTo(new[] { "After. ", "Done." }));
    }

    [Test]
    public void Append_ShortPiecesBeforeOverlongOne_FlushedAtTheirBoundary()
    {
        var text = "Hi. " + new string('X', 30);
        var pieces = SegmenterDriver.Whole(text, SegmentMode.Sentence, minChars: 10, maxPieceChars: 16);

        Assert.That(pieces, Is.EqualTo(new[] { "Hi. ", new string('X', 16), new string('X', 14) }));
    }

    [Test]
    public void Constructor_BadLimits_Throws()
    {
        Assert.That(() => new SentenceSegmenter(SegmentMode.Clause, minChars: -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new SentenceSegmenter(SegmentMode.Clause, maxPieceChars: 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
