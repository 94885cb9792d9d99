using GptWsDaemon.Text;
using NUnit.Framework;

namespace GptWsDaemon.Tests.Text;

/// <summary>Exact pieces for Chinese, English and mixed text, traps included, in both modes.</summary>
[Category("unit")]
[TestFixture]
public sealed class SegmenterTableTests
{
    // Chinese.
    [TestCase("你好。世界。", SegmentMode.Sentence, new[] { "你好。", "世界。" })]
    [TestCase("他说：“你好。”然后走了。", SegmentMode.Sentence, new[] { "他说：“你好。”", "然后走了。" })]
    [TestCase("真的吗？！太好了……我们走吧．", SegmentMode.Sentence, new[] { "真的吗？！", "太好了……", "我们走吧．" })]
    [TestCase("「好。」『对！』（完）", SegmentMode.Sentence, new[] { "「好。」", "『对！』", "（完）" })]
    [TestCase("我们明天一起去看《摔跤吧！爸爸》好吗？好！", SegmentMode.Sentence, new[] { "我们明天一起去看《摔跤吧！爸爸》好吗？", "好！" })]
    [TestCase("圆周率约为３．１４。对吗？", SegmentMode.Sentence, new[] { "圆周率约为３．１４。", "对吗？" })]
    [TestCase("你好，世界、朋友；来：看。", SegmentMode.Sentence, new[] { "你好，世界、朋友；来：看。" })]
    [TestCase("你好，世界、朋友；来：看。", SegmentMode.Clause, new[] { "你好，", "世界、", "朋友；", "来：", "看。" })]
    [TestCase("下午3：30，共1，000人。", SegmentMode.Clause, new[] { "下午3：30，", "共1，000人。" })]
    [TestCase("《吧，爸爸》好，走。", SegmentMode.Clause, new[] { "《吧，爸爸》好，", "走。" })]
    [TestCase("“你好，”他说。", SegmentMode.Clause, new[] { "“你好，”", "他说。" })]
    [TestCase("他说：“我想……”然后走了。", SegmentMode.Clause, new[] { "他说：", "“我想……”", "然后走了。" })]
    [TestCase("好的!我来了?是的.谢谢", SegmentMode.Sentence, new[] { "好的!", "我来了?", "是的.", "谢谢" })]
    [TestCase("中文,英文;还有:冒号", SegmentMode.Clause, new[] { "中文,", "英文;", "还有:", "冒号" })]

    // English basics, runs and closers.
    [TestCase("Hello world. Next one.", SegmentMode.Sentence, new[] { "Hello world. ", "Next one." })]
    [TestCase("Really?! Yes!! Okay... Fine?", SegmentMode.Sentence, new[] { "Really?! ", "Yes!! ", "Okay... ", "Fine?" })]
    [TestCase("He said \"Stop.\" Then he left.", SegmentMode.Sentence, new[] { "He said \"Stop.\" ", "Then he left." })]
    [TestCase("He said \"Stop.\" and left.", SegmentMode.Sentence, new[] { "He said \"Stop.\" and left." })]
    [TestCase("(It was late.) We left.", SegmentMode.Sentence, new[] { "(It was late.) ", "We left." })]
    [TestCase("She works at Yahoo! in Paris.", SegmentMode.Sentence, new[] { "She works at Yahoo! in Paris." })]
    [TestCase("Great job! 🎉 See you.", SegmentMode.Sentence, new[] { "Great job! ", "🎉 See you." })]
    [TestCase("This is **done.** Next step.", SegmentMode.Sentence, new[] { "This is **done.** ", "Next step." })]

    // Abbreviations, initials, acronyms.
    [TestCase("Mr. Smith met Dr. Jones. They talked.", SegmentMode.Sentence, new[] { "Mr. Smith met Dr. Jones. ", "They talked." })]
    [TestCase("Mrs. Brown, Prof. Lee and St. John came.", SegmentMode.Sentence, new[] { "Mrs. Brown, Prof. Lee and St. John came." })]
    [TestCase("Use e.g. This one, i.e. The best. Go.", SegmentMode.Sentence, new[] { "Use e.g. This one, i.e. The best. ", "Go." })]
    [TestCase("Apples, pears, etc. are fruit. Apples etc. Are they?", SegmentMode.Sentence, new[] { "Apples, pears, etc. are fruit. ", "Apples etc. ", "Are they?" })]
    [TestCase("Apple Inc. is big. Pitt & Co. It closed.", SegmentMode.Sentence, new[] { "Apple Inc. is big. ", "Pitt & Co. ", "It closed." })]
    [TestCase("JFK Jr. was there. It is Jr.'s book.", SegmentMode.Sentence, new[] { "JFK Jr. was there. ", "It is Jr.'s book." })]
    [TestCase("I saw Mt. Fuji. It was tall.", SegmentMode.Sentence, new[] { "I saw Mt. Fuji. ", "It was tall." })]
    [TestCase("Turn to p. 55 now. It's No. 5 vs. No. 6 today.", SegmentMode.Sentence, new[] { "Turn to p. 55 now. ", "It's No. 5 vs. No. 6 today." })]
    [TestCase("Jonas E. Smith is here. So is Ann B. Lee.", SegmentMode.Sentence, new[] { "Jonas E. Smith is here. ", "So is Ann B. Lee." })]
    [TestCase("I live in the U.S. How about you?", SegmentMode.Sentence, new[] { "I live in the U.S. ", "How about you?" })]
    [TestCase("The U.S. Army and the U.S. for ever.", SegmentMode.Sentence, new[] { "The U.S. Army and the U.S. for ever." })]
    [TestCase("We met at 5 p.m. and left. At 6 a.m. Tom woke.", SegmentMode.Sentence, new[] { "We met at 5 p.m. and left. ", "At 6 a.m. Tom woke." })]
    [TestCase("We left at 6 P.M. Tom stayed.", SegmentMode.Sentence, new[] { "We left at 6 P.M. ", "Tom stayed." })]

    // Numbers, URLs, e-mail.
    [TestCase("Pi is 3.14 and it is 1.5m long. Version 2.0.1 is out.", SegmentMode.Sentence, new[] { "Pi is 3.14 and it is 1.5m long. ", "Version 2.0.1 is out." })]
    [TestCase("It costs $100.00. It is cheap.", SegmentMode.Sentence, new[] { "It costs $100.00. ", "It is cheap." })]
    [TestCase("See https://example.com/a.b?c=d for more. Thanks!", SegmentMode.Sentence, new[] { "See https://example.com/a.b?c=d for more. ", "Thanks!" })]
    [TestCase("Open https://example.com/a.b?c=d. Then wait.", SegmentMode.Sentence, new[] { "Open https://example.com/a.b?c=d. ", "Then wait." })]
    [TestCase("Mail jane.doe@example.com. Then wait.", SegmentMode.Sentence, new[] { "Mail jane.doe@example.com. ", "Then wait." })]
    [TestCase("见https://a.com/?中文和foo@a.cn!好", SegmentMode.Sentence, new[] { "见https://a.com/?中文和foo@a.cn!好" })]

    // Ellipses.
    [TestCase("Wait... what happened? Nothing.", SegmentMode.Sentence, new[] { "Wait... what happened? ", "Nothing." })]
    [TestCase("I mean...see . . . it is . . . I know.", SegmentMode.Sentence, new[] { "I mean...see . . . it is . . . I know." })]
    [TestCase("I never meant that.... She left. Hmm… Fine.", SegmentMode.Sentence, new[] { "I never meant that.... ", "She left. ", "Hmm… ", "Fine." })]
    [TestCase("\"Bohr [...] used it [...]\" (Smith 55). Next.", SegmentMode.Sentence, new[] { "\"Bohr [...] used it [...]\" (Smith 55). ", "Next." })]

    // Lists.
    [TestCase("1. The first item 2. The second item", SegmentMode.Sentence, new[] { "1. The first item ", "2. The second item" })]
    [TestCase("1.) First. 2.) Second.", SegmentMode.Sentence, new[] { "1.) First. ", "2.) Second." })]
    [TestCase("a. The first item b. The second item", SegmentMode.Sentence, new[] { "a. The first item ", "b. The second item" })]
    [TestCase("**1. Install** it. Then run.\n## 2. Setup\nSee Eq. (2) now.", SegmentMode.Sentence,
        new[] { "**1. Install** it. ", "Then run.\n", "## 2. Setup\n", "See Eq. (2) now." })]

    // Newlines and code.
    [TestCase("Line one\nLine two\n\nLine three", SegmentMode.Sentence, new[] { "Line one\n", "Line two\n\n", "Line three" })]
    [TestCase("\n\nHello.\r\nBye", SegmentMode.Sentence, new[] { "\n\nHello.\r\n", "Bye" })]
    [TestCase("Mr.\nSmith", SegmentMode.Sentence, new[] { "Mr.\n", "Smith" })]
    [TestCase("Code:\n```python\nx = 1. Y = 2! print(x)\n\nz = 3\n```\nDone. Bye.", SegmentMode.Sentence,
        new[] { "Code:\n", "```python\nx = 1. Y = 2! print(x)\n\nz = 3\n```\n", "Done. ", "Bye." })]
    [TestCase("Code:\n```\na, b; c: d。e\n```\nok, fine", SegmentMode.Clause, new[] { "Code:\n", "```\na, b; c: d。e\n```\n", "ok, ", "fine" })]
    [TestCase("~~~\nA. B! C?\n~~~\nEnd.", SegmentMode.Sentence, new[] { "~~~\nA. B! C?\n~~~\n", "End." })]
    [TestCase("Call `a. B` now. Next.", SegmentMode.Sentence, new[] { "Call `a. B` now. ", "Next." })]
    [TestCase("Call `f(a, b)` now, then stop.", SegmentMode.Clause, new[] { "Call `f(a, b)` now, ", "then stop." })]

    // Clause mode in English.
    [TestCase("Sure, one, two: three; four.", SegmentMode.Sentence, new[] { "Sure, one, two: three; four." })]
    [TestCase("Sure, one, two: three; four.", SegmentMode.Clause, new[] { "Sure, ", "one, ", "two: ", "three; ", "four." })]
    [TestCase("It costs 1,000 dollars at 10:30, sharp.", SegmentMode.Clause, new[] { "It costs 1,000 dollars at 10:30, ", "sharp." })]
    [TestCase("See https://a.com/x,y;z:1 now, ok.", SegmentMode.Clause, new[] { "See https://a.com/x,y;z:1 now, ", "ok." })]
    [TestCase("\"Hi,\" she said. Mr. Smith, hi.", SegmentMode.Clause, new[] { "\"Hi,\" ", "she said. ", "Mr. Smith, ", "hi." })]

    // Mixed.
    [TestCase("Mixed 中文。English here. 再见！OK", SegmentMode.Sentence, new[] { "Mixed 中文。", "English here. ", "再见！", "OK" })]
    [TestCase("I agree. 我也是，真的。", SegmentMode.Clause, new[] { "I agree. ", "我也是，", "真的。" })]
    public void Append_Text_YieldsExactPieces(string text, SegmentMode mode, string[] expected)
    {
        Assert.That(SegmenterDriver.Whole(text, mode), Is.EqualTo(expected));
        for (var seed = 1; seed <= 3; seed++)
        {
            Assert.That(SegmenterDriver.Chunked(text, mode, new Random(seed), maxChunk: 3), Is.EqualTo(expected), $"seed {seed}");
        }
    }
}
