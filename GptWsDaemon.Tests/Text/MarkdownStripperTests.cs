using System.Text;
using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Text;

/// <summary>
/// <see cref="MarkdownStripper"/>: every markup kind as a table, and any chunking equal to stripping the whole text at
/// once (the reference), so that "markdown": "strip" keeps the invariant "frames concatenate to the stripped text".
/// </summary>
[Category("unit")]
[TestFixture]
public sealed class MarkdownStripperTests
{
    [TestCase("**bold** and *em* and __strong__ and _it_", "bold and em and strong and it")]
    [TestCase("~~gone~~ but ~5 stays", "gone but ~5 stays")]
    [TestCase("snake_case_name and 2 * 3", "snake_case_name and 2 * 3")]
    [TestCase("# Title\n## 杭州的景色\ntext", "Title\n杭州的景色\ntext")]
    [TestCase("- one\n* two\n+ three\n", "one\ntwo\nthree\n")]
    [TestCase("1. first\n2) second\n10. tenth", "first\nsecond\ntenth")]
    [TestCase("> quoted\n> - listed", "quoted\nlisted")]
    [TestCase("use `ls -la` here", "use ls -la here")]
    [TestCase("see [the docs](https://example.com/a_b) now", "see the docs now")]
    [TestCase("an ![image of a cat](cat.png).", "an image of a cat.")]
    [TestCase("[not a link] and [x]", "[not a link] and [x]")]
    [TestCase("before\n```python\nprint('x')\n```\nafter", "before\nafter")]
    [TestCase("| a | b |\n|---|:-:|\n| 1 | 2 |\n", " a   b  \n\n 1   2  \n")]
    [TestCase("line\n---\nnext", "line\n\nnext")]
    [TestCase("3.14 is pi. 2024 was a year.", "3.14 is pi. 2024 was a year.")]
    [TestCase("escaped \\*stars\\*", "escaped *stars*")]
    public void Strip_Table(string markdown, string spoken) =>
        Assert.That(StripWhole(markdown, null), Is.EqualTo(spoken));

    [Test]
    public void FencedCode_WithPlaceholder_ReplacedOnce() =>
        Assert.That(StripWhole("Run:\n```sh\nmake\nmake test\n```\nDone.", "(code)"), Is.EqualTo("Run:\n(code)\nDone."));

    [Test]
    public void AnyChunking_SameAsStrippingTheWholeAnswer()
    {
        var answer = LongMarkdownAnswer();
        var reference = StripWhole(answer, null);
        var random = new Random(1201);
        for (var round = 0; round < 40; round++)
        {
            var stripper = new MarkdownStripper();
            var output = new StringBuilder();
            for (var i = 0; i < answer.Length;)
            {
                var n = Math.Min(1 + random.Next(9), answer.Length - i);
                stripper.Append(answer.AsSpan(i, n), output);
                i += n;
            }

            stripper.Complete(output);
            Assert.That(output.ToString(), Is.EqualTo(reference), $"round {round}");
        }

        Assert.That(reference, Does.Not.Contain("**").And.Not.Contain("```").And.Not.Contain("](").And.Not.Contain("## "));
    }

    [Test]
    public void PlainText_IsNotHeldBack()
    {
        // A speech engine must not wait on the stripper: plain text at a line start goes out with its delta.
        var stripper = new MarkdownStripper();
        var output = new StringBuilder();
        stripper.Append("你好", output);
        Assert.That(output.ToString(), Is.EqualTo("你好"));
    }

    /// <summary>A 2,000-character answer with every markup kind, in Chinese and English.</summary>
    internal static string LongMarkdownAnswer()
    {
        var sb = new StringBuilder();
        var i = 0;
        while (sb.Length < 2000)
        {
            sb.Append(i % 2 == 0 ? "## 杭州景点 " : "## Places ").Append(i).Append('\n');
            sb.Append("西湖是**最有名**的景点，_灵隐寺_也值得一去。See [the guide](https://example.com/g?i=").Append(i).Append(") for more.\n");
            sb.Append("- 苏堤春晓\n- `断桥`残雪\n1. Go early.\n2. Take ~~a car~~ the bus, 2 * 3 stops.\n");
            sb.Append("> Tip: bring water.\n```\ncode line ").Append(i).Append("\n```\n| 景点 | 门票 |\n|---|---|\n| 西湖 | 免费 |\n\n");
            i++;
        }

        return sb.ToString();
    }

    private static string StripWhole(string markdown, string? placeholder)
    {
        var stripper = new MarkdownStripper(placeholder);
        var output = new StringBuilder();
        stripper.Append(markdown, output);
        stripper.Complete(output);
        return output.ToString();
    }
}
