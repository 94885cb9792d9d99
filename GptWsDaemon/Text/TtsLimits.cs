namespace GptWsDaemon.Text;

/// <summary>
/// The lengths of <see cref="SegmentMode.Tts"/> (ini <c>[tts]</c>), weighed so that a CJK character counts as two
/// Latin letters and white space as nothing: a speech engine needs about as much Chinese as twice the English letters.
/// </summary>
/// <param name="FirstMinChars">The first piece is released at the first clause or sentence end with at least this weight.</param>
/// <param name="MinChars">After it, whole sentences are merged while lighter than this.</param>
/// <param name="MaxChars">A piece that grows longer than this many characters is cut at its last clause mark, else at a space.</param>
/// <param name="CodePlaceholder">With <c>"markdown": "strip"</c>, what a fenced code block becomes (nothing when empty).</param>
public sealed record TtsLimits(int FirstMinChars = 6, int MinChars = 20, int MaxChars = 150, string CodePlaceholder = "")
{
    /// <summary>The weight of <paramref name="text"/>: CJK 2, white space 0, anything else 1.</summary>
    public static int Weight(ReadOnlySpan<char> text)
    {
        var weight = 0;
        foreach (var c in text)
        {
            weight += CharClass.IsCjk(c) ? 2 : CharClass.IsWhite(c) || char.IsLowSurrogate(c) ? 0 : 1;
        }

        return weight;
    }
}
