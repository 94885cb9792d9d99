using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Text;

/// <summary>
/// segment = tts (protocol.md §5.4): a speakable first piece at once, then whole sentences merged up to a weight, a
/// long sentence cut at its last clause mark or a space — in Chinese, English and mixed text, in every chunking.
/// </summary>
[Category("unit")]
[TestFixture]
public sealed class TtsSegmentTests
{
    private static readonly TtsLimits Limits = new(FirstMinChars: 6, MinChars: 20, MaxChars: 60);

    [TestCase("你好，我是小明。今天天气很好。我们去西湖吧！", new[] { "你好，我是小明。", "今天天气很好。我们去西湖吧！" })]
    [TestCase("你好啊，我是小明。今天天气很好，我们去西湖吧。", new[] { "你好啊，", "我是小明。今天天气很好，我们去西湖吧。" })]
    [TestCase("好。我是小明，今天天气很好。", new[] { "好。我是小明，", "今天天气很好。" })]
    [TestCase("Hi, I am Bob. This is a test of the segmenter. OK.", new[] { "Hi, I am Bob. ", "This is a test of the segmenter. ", "OK." })]
    [TestCase("Yes. No. Maybe so, who knows. Fine.", new[] { "Yes. No. ", "Maybe so, who knows. Fine." })]
    [TestCase("杭州 is nice. 西湖很美，灵隐寺也很有名。", new[] { "杭州 is nice. ", "西湖很美，灵隐寺也很有名。" })]
    public void Segment_Table_FirstPieceEarlyThenWholeSentences(string text, string[] pieces) =>
        Assert.That(Run(text, text.Length), Is.EqualTo(pieces));

    [Test]
    public void FirstPiece_WeighsCjkDouble()
    {
        // "你好，" weighs 5 (two CJK characters and a mark): under 6, so the first piece waits for "你好，世界。" (9).
        Assert.That(Run("你好，世界。再见。", 100)[0], Is.EqualTo("你好，世界。"));
        // "Hello, " weighs 6: enough.
        Assert.That(Run("Hello, world. Bye.", 100)[0], Is.EqualTo("Hello, "));
    }

    [Test]
    public void LongSentence_CutAtItsLastClauseMark()
    {
        var text = "First one is here. " + "alpha beta gamma, delta epsilon zeta, eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau.";
        var pieces = Run(text, 7);

        Assert.Multiple(() =>
        {
            Assert.That(string.Concat(pieces), Is.EqualTo(text));
            Assert.That(pieces, Has.Some.EndsWith("zeta, "), "cut after the last clause mark before the cap");
            Assert.That(pieces.All(p => p.Length <= Limits.MaxChars), Is.True, string.Join(" | ", pieces));
        });
    }

    [Test]
    public void LongSentence_NoClauseMark_CutAtASpaceNeverInsideAWord()
    {
        var words = string.Join(' ', Enumerable.Range(0, 40).Select(i => "word" + i)) + ".";
        var pieces = Run("Start here now. " + words, 5);

        Assert.Multiple(() =>
        {
            Assert.That(string.Concat(pieces), Is.EqualTo("Start here now. " + words));
            Assert.That(pieces.Take(pieces.Count - 1).All(p => p.EndsWith(' ')), Is.True, string.Join(" | ", pieces));
            Assert.That(pieces.All(p => p.Length <= Limits.MaxChars), Is.True);
        });
    }

    [Test]
    public void AnyChunking_SamePiecesAndExactConcatenation()
    {
        var text = "你好，我是小明。Hello, this is Bob! 今天天气很好，我们去西湖吧？ Dr. Smith said 3.14 is pi. 「好的。」他说。" +
                   "A very long sentence follows, with clauses, and more words than the cap allows for a single piece of speech output.";
        var whole = Run(text, text.Length);
        var random = new Random(20261201);
        for (var round = 0; round < 50; round++)
        {
            Assert.That(Run(text, 1 + random.Next(12)), Is.EqualTo(whole), $"round {round}");
        }

        Assert.That(string.Concat(whole), Is.EqualTo(text));
    }

    private static List<string> Run(string text, int chunk)
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Tts, tts: Limits);
        var pieces = new List<string>();
        for (var i = 0; i < text.Length; i += chunk)
        {
            segmenter.Append(text.AsSpan(i, Math.Min(chunk, text.Length - i)));
            while (segmenter.TryTake(out var piece))
            {
                pieces.Add(piece);
            }
        }

        segmenter.Complete();
        while (segmenter.TryTake(out var piece))
        {
            pieces.Add(piece);
        }

        return pieces;
    }
}
