using GptWsDaemon.Text;
using NUnit.Framework;

namespace GptWsDaemon.Tests.Text;

/// <summary>Pieces come out as soon as their end is certain, not at the end of the stream.</summary>
[Category("unit")]
[TestFixture]
public sealed class SegmenterIncrementalTests
{
    [Test]
    public void TryTake_ChineseTerminatorThenLetter_PieceBeforeComplete()
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence);
        segmenter.Append("你好。世界");

        Assert.That(segmenter.TryTake(out var first), Is.True);
        Assert.That(first, Is.EqualTo("你好。"));
        Assert.That(segmenter.TryTake(out _), Is.False);
        segmenter.Complete();
        Assert.That(segmenter.TryTake(out var tail), Is.True);
        Assert.That(tail, Is.EqualTo("世界"));
    }

    [Test]
    public void TryTake_EnglishPeriodThenUppercase_PieceBeforeComplete()
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence);
        segmenter.Append("Hello there. Next");

        Assert.That(segmenter.TryTake(out var first), Is.True);
        Assert.That(first, Is.EqualTo("Hello there. "));
        Assert.That(segmenter.TryTake(out _), Is.False);
    }

    [Test]
    public void TryTake_TerminatorAtEndOfDelta_WaitsForOneMoreChar()
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence);
        segmenter.Append("他说：“好。");
        Assert.That(segmenter.TryTake(out _), Is.False, "a closing quote may still follow");

        // After the quote, the next words may be an attribution ("”他说。", GB/T 15834): they are read up to their mark.
        segmenter.Append("”然");
        Assert.That(segmenter.TryTake(out _), Is.False, "an attribution may still follow");
        segmenter.Append("后走了。");
        Assert.That(segmenter.TryTake(out var piece), Is.True);
        Assert.That(piece, Is.EqualTo("他说：“好。”"));
    }

    [Test]
    public void TryTake_AbbreviationSplitAcrossDeltas_NoPieceUntilDecided()
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence);
        segmenter.Append("I met Mr");
        segmenter.Append(". ");
        Assert.That(segmenter.TryTake(out _), Is.False);
        segmenter.Append("Smith. He");
        Assert.That(segmenter.TryTake(out var piece), Is.True);
        Assert.That(piece, Is.EqualTo("I met Mr. Smith. "));
    }

    [Test]
    public void TryTake_OneCharDeltas_EachPieceBeforeComplete()
    {
        const string text = "第一句。第二句！Third one. Fourth";
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence);
        var seen = new List<string>();
        foreach (var c in text)
        {
            segmenter.Append([c]);
            while (segmenter.TryTake(out var piece))
            {
                seen.Add(piece);
            }
        }

        Assert.That(seen, Is.EqualTo(new[] { "第一句。", "第二句！", "Third one. " }));
    }

    [Test]
    public void Complete_ThenAppend_StartsNewStream()
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence);
        segmenter.Append("```\nopen fence");
        segmenter.Complete();
        Assert.That(segmenter.TryTake(out var first), Is.True);
        Assert.That(first, Is.EqualTo("```\nopen fence"));

        segmenter.Append("新的。流");
        Assert.That(segmenter.TryTake(out var second), Is.True);
        Assert.That(second, Is.EqualTo("新的。"));
    }
}
