namespace GptWsDaemon.Text;

/// <summary>
/// Chinese dialogue punctuation as GB/T 15834 uses it, where a sentence goes on past a mark that ends one elsewhere:
/// a short attribution after a quoted sentence ("“你好。”他说。"), and an ellipsis between Chinese words ("好……我知道了。").
/// </summary>
internal static class DialogueRule
{
    private static readonly System.Buffers.SearchValues<char> SayingVerbs = System.Buffers.SearchValues.Create("说问道答喊叫笑想");

    /// <summary>
    /// An ellipsis after a word of at most two Chinese characters and before more Chinese, with no closer or space, is
    /// speech breaking off and going on ("我……我……不知道", "好……我知道了"), not a sentence left unfinished ("太好了……我们走吧").
    /// </summary>
    public static bool IsPause(ReadOnlySpan<char> text, int ellipsisAt, char after)
    {
        if (!CharClass.IsCjk(after))
        {
            return false;
        }

        var word = 0;
        for (var k = ellipsisAt - 1; k >= 0 && CharClass.IsCjk(text[k]); k--)
        {
            if (++word > 2)
            {
                return false;
            }
        }

        return word > 0;
    }

    /// <summary>A quote that closes direct speech.</summary>
    public static bool IsClosingQuote(char c) => c is '”' or '」' or '』' or '’';

    /// <summary>
    /// Whether the words after a closing quote are a short attribution ("他说。", "她问道，"): up to 8 characters to the
    /// next terminator or clause mark, with a verb of saying among them. NeedMore while they have not all arrived.
    /// </summary>
    public static ScanVerdict Attribution(ReadOnlySpan<char> text, int from, bool isFinal)
    {
        const int Reach = 8;
        var k = from;
        while (k < text.Length && k - from <= Reach)
        {
            var c = text[k];
            if (CharClass.IsCjkTerminator(c) || CharClass.IsFullWidthClause(c) || CharClass.IsBang(c) || c == '…')
            {
                return text[from..k].IndexOfAny(SayingVerbs) >= 0 ? ScanVerdict.NoBoundary : ScanVerdict.Boundary;
            }

            if (!CharClass.IsCjk(c))
            {
                return ScanVerdict.Boundary;
            }

            k++;
        }

        return k >= text.Length && !isFinal ? ScanVerdict.NeedMore : ScanVerdict.Boundary;
    }
}
