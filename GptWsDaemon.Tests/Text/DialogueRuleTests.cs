using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Text;

/// <summary>
/// Chinese dialogue punctuation (GB/T 15834) in sentence mode: a sentence stays whole where the standard says it goes
/// on — an attribution after a quoted sentence, an ellipsis between words — and is cut where a new one starts.
/// </summary>
[Category("unit")]
[TestFixture]
public sealed class DialogueRuleTests
{
    [TestCase("“你好。”他说。我们走吧。", new[] { "“你好。”他说。", "我们走吧。" })]
    [TestCase("「你去哪儿？」她问。「回家。」", new[] { "「你去哪儿？」她问。", "「回家。」" })]
    [TestCase("“快跑！”他喊道，“他们来了！”", new[] { "“快跑！”他喊道，“他们来了！”" })]
    [TestCase("好……我知道了。", new[] { "好……我知道了。" })]
    [TestCase("我……我……不知道。", new[] { "我……我……不知道。" })]
    [TestCase("太好了……我们走吧。", new[] { "太好了……", "我们走吧。" })]
    [TestCase("他说：“你好。”然后走了。", new[] { "他说：“你好。”", "然后走了。" })]
    [TestCase("他说：“我们走吧……”她没有回答。", new[] { "他说：“我们走吧……”", "她没有回答。" })]
    [TestCase("他问：“你来吗？”“来！”我说。", new[] { "他问：“你来吗？”", "“来！”我说。" })]
    [TestCase("《三体。黑暗森林》是一本书。", new[] { "《三体。黑暗森林》是一本书。" })]
    [TestCase("这是——怎么说呢——一个问题。好。", new[] { "这是——怎么说呢——一个问题。", "好。" })]
    public void Sentence_Dialogue_WholeWhereTheStandardGoesOn(string text, string[] pieces)
    {
        Assert.That(Segment(text, text.Length), Is.EqualTo(pieces));
        for (var chunk = 1; chunk <= 3; chunk++)
        {
            Assert.That(Segment(text, chunk), Is.EqualTo(pieces), $"chunks of {chunk}");
        }
    }

    private static List<string> Segment(string text, int chunk)
    {
        var segmenter = new SentenceSegmenter(SegmentMode.Sentence);
        var pieces = new List<string>();
        for (var i = 0; i < text.Length; i += chunk)
        {
            segmenter.Append(text.AsSpan(i, Math.Min(chunk, text.Length - i)));
            while (segmenter.TryTake(out var p))
            {
                pieces.Add(p);
            }
        }

        segmenter.Complete();
        while (segmenter.TryTake(out var p))
        {
            pieces.Add(p);
        }

        return pieces;
    }
}
