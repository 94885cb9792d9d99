namespace GptWsDaemon.Text;

/// <summary>Character classes used by the sentence rules (BMP only: astral characters count as "other").</summary>
internal static class CharClass
{
    /// <summary>Any Unicode white space, including the ideographic space.</summary>
    public static bool IsWhite(char c) => char.IsWhiteSpace(c);

    /// <summary>Line terminators: each one ends a piece outside a code fence.</summary>
    public static bool IsNewline(char c) => c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029';

    /// <summary>Exclamation and question marks of the Latin script.</summary>
    public static bool IsBang(char c) => c is '!' or '?' or '‼' or '⁇' or '⁈' or '⁉';

    /// <summary>Full-width sentence terminators, which need no following space.</summary>
    public static bool IsCjkTerminator(char c) => c is '。' or '！' or '？' or '．' or '｡';

    /// <summary>Any character that may end a sentence.</summary>
    public static bool IsTerminator(char c) => c is '.' or '…' || IsBang(c) || IsCjkTerminator(c);

    /// <summary>Full-width clause marks (cut in <see cref="SegmentMode.Clause"/> without a following space).</summary>
    public static bool IsFullWidthClause(char c) => c is '，' or '、' or '；' or '：' or '､' or '﹐' or '﹑' or '﹔' or '﹕';

    /// <summary>ASCII clause marks (cut in <see cref="SegmentMode.Clause"/> only before a space or CJK text).</summary>
    public static bool IsAsciiClause(char c) => c is ',' or ';' or ':';

    /// <summary>Closing quotes and brackets that stay with the sentence they close.</summary>
    public static bool IsCloser(char c) => c is ')' or ']' or '}' or '”' or '’' or '»' or '›' or '」' or '』' or '）'
        or '》' or '〉' or '】' or '〕' or '〗' or '〙' or '］' or '｝' or '＂' or '＇';

    /// <summary>Marks that close only when no word follows them directly (quotes, apostrophes, Markdown emphasis).</summary>
    public static bool IsAmbiguousCloser(char c) => c is '"' or '\'' or '*' or '_';

    /// <summary>Opening quotes, brackets and emphasis stripped from the front of a word.</summary>
    public static bool IsOpener(char c) => c is '(' or '[' or '{' or '"' or '\'' or '“' or '‘' or '«' or '‹' or '「' or '『'
        or '（' or '《' or '〈' or '【' or '〔' or '*' or '_' or '¡' or '¿';

    /// <summary>Chinese, Japanese and Korean letters (not their punctuation).</summary>
    public static bool IsCjk(char c) => c is (>= '\u3040' and <= '\u30FF') or (>= '\u3400' and <= '\u4DBF')
        or (>= '\u4E00' and <= '\u9FFF') or (>= '\uF900' and <= '\uFAFF') or (>= '\uAC00' and <= '\uD7AF');

    /// <summary>Bullets that may precede a list number ("• 9.", "⁃10.").</summary>
    public static bool IsBullet(char c) => c is '•' or '⁃' or '‣' or '◦' or '▪' or '·' or '-' or '*';

    /// <summary>0-9 only.</summary>
    public static bool IsAsciiDigit(char c) => c is >= '0' and <= '9';

    /// <summary>a-z or A-Z only.</summary>
    public static bool IsAsciiLetter(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z');
}
