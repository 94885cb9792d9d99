using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Text;

/// <summary>
/// The segmenter's rules one by one, as tables: each row is a text, the candidate character's index, whether the text
/// is final, and the verdict with the cut (the index the next piece starts at; a piece keeps the white space after it).
/// </summary>
[Category("unit")]
[TestFixture]
public sealed class RuleTableTests
{
    [TestCase("Hello. World", 5, false, "Boundary", 7)]
    [TestCase("Hello. ", 5, false, "NeedMore", -1)]
    [TestCase("Hello.", 5, true, "Boundary", 6)]
    [TestCase("Dr. Smith is in.", 2, false, "NoBoundary", -1)]
    [TestCase("It costs 3.14 today", 10, false, "NoBoundary", -1)]
    [TestCase("Jonas E. Smith", 7, false, "NoBoundary", -1)]
    [TestCase("你好。世界", 2, false, "Boundary", 3)]
    [TestCase("真的吗？！好", 3, false, "Boundary", 5)]
    [TestCase("Really?! Yes", 6, false, "Boundary", 9)]
    [TestCase("He said \"Go.\" Then", 11, false, "Boundary", 14)]
    [TestCase("see example.com for more", 11, false, "NoBoundary", -1)]
    public void TerminatorRule_Table(string text, int i, bool isFinal, string expected, int cut)
    {
        var got = TerminatorRule.Evaluate(text, i, isFinal, NoMarker.Instance, out var value);
        Assert.That(got.ToString(), Is.EqualTo(expected));
        if (expected == nameof(ScanVerdict.Boundary))
        {
            Assert.That(value, Is.EqualTo(cut), "where the next piece starts");
        }
    }

    [Test]
    public void TerminatorRule_PeriodOfTheListNumber_NoBoundary()
    {
        var marker = new OneMarker(1);
        Assert.That(TerminatorRule.Evaluate("1. The first item", 1, false, marker, out _), Is.EqualTo(ScanVerdict.NoBoundary));
    }

    [TestCase("你好，世界", 2, false, "Boundary", 3)]
    [TestCase("苹果、香蕉", 2, false, "Boundary", 3)]
    [TestCase("first, second", 5, false, "Boundary", 7)]
    [TestCase("1,000 people", 1, false, "NoBoundary", -1)]
    [TestCase("a,b", 1, false, "NoBoundary", -1)]
    public void ClauseRule_Table(string text, int i, bool isFinal, string expected, int cut)
    {
        var got = ClauseRule.Evaluate(text, i, text[i], isFinal, out var value);
        Assert.That(got.ToString(), Is.EqualTo(expected));
        if (expected == nameof(ScanVerdict.Boundary))
        {
            Assert.That(value, Is.EqualTo(cut));
        }
    }

    [TestCase("see https://example.com/a", 25, true)]
    [TestCase("mail bob@example.com", 20, true)]
    [TestCase("go to www.example", 17, true)]
    [TestCase("the end", 7, false)]
    public void Lookback_TokenLooksLikeUrl_Table(string text, int i, bool url) =>
        Assert.That(Lookback.TokenLooksLikeUrl(text, i), Is.EqualTo(url));

    [TestCase("Ask Albert I", 11, true)]
    [TestCase("you and I", 8, false)]
    public void Lookback_PreviousWordCapitalized_Table(string text, int start, bool capitalized) =>
        Assert.That(Lookback.PreviousWordCapitalized(text, start), Is.EqualTo(capitalized));

    private sealed class NoMarker : IListMarkerProbe
    {
        public static readonly NoMarker Instance = new();

        public int MarkerDotIndex => -1;

        public ScanVerdict EnsureMarker(ReadOnlySpan<char> text, bool isFinal) => ScanVerdict.NoBoundary;
    }

    private sealed class OneMarker(int dot) : IListMarkerProbe
    {
        public int MarkerDotIndex => dot;

        public ScanVerdict EnsureMarker(ReadOnlySpan<char> text, bool isFinal) => ScanVerdict.NoBoundary;
    }
}
