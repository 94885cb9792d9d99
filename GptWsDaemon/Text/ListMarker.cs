namespace GptWsDaemon.Text;

/// <summary>
/// An inline list item marker such as "1.", "2.)", "3)", "a.", "• 9." or "⁃10." followed by a space.
/// </summary>
/// <param name="Bullet">Bullet before the number, or '\0'.</param>
/// <param name="BulletSpaced">Whether a space separates the bullet from the number.</param>
/// <param name="IsLetter">Whether the item is a letter rather than a number.</param>
/// <param name="Value">The number, or the letter's code.</param>
/// <param name="Suffix">1 for ".", 2 for ".)", 3 for ")".</param>
/// <param name="DotIndex">Index of the marker's period, or -1.</param>
/// <param name="End">Index just past the space after the marker.</param>
internal readonly record struct ListMarker(char Bullet, bool BulletSpaced, bool IsLetter, int Value, int Suffix, int DotIndex, int End)
{
    private const int MaxDigits = 3;

    /// <summary>True when this marker is the item right after <paramref name="previous"/> in the same style.</summary>
    public bool Follows(ListMarker previous) =>
        Bullet == previous.Bullet && BulletSpaced == previous.BulletSpaced && IsLetter == previous.IsLetter
        && Suffix == previous.Suffix && Value == previous.Value + 1;

    /// <summary>Reads a marker starting at <paramref name="start"/>.</summary>
    /// <param name="text">Text to read.</param>
    /// <param name="start">Where the marker would begin.</param>
    /// <param name="isFinal">Whether the text is complete.</param>
    /// <param name="marker">The marker found.</param>
    /// <param name="needMore">Set when the text ends before the answer is known.</param>
    /// <returns>True when a marker is there.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, int start, bool isFinal, out ListMarker marker, out bool needMore)
    {
        marker = default;
        needMore = false;
        var k = start;
        var bullet = '\0';
        var spaced = false;
        if (k >= text.Length)
        {
            return NeedMore(isFinal, out needMore);
        }

        if (CharClass.IsBullet(text[k]))
        {
            bullet = text[k++];
            if (k >= text.Length)
            {
                return NeedMore(isFinal, out needMore);
            }

            if (text[k] == ' ')
            {
                spaced = true;
                k++;
            }
        }

        if (k >= text.Length)
        {
            return NeedMore(isFinal, out needMore);
        }

        int value;
        var isLetter = false;
        if (CharClass.IsAsciiDigit(text[k]))
        {
            value = 0;
            var digits = 0;
            while (k < text.Length && CharClass.IsAsciiDigit(text[k]))
            {
                if (++digits > MaxDigits)
                {
                    return false;
                }

                value = (value * 10) + (text[k++] - '0');
            }
        }
        else if (CharClass.IsAsciiLetter(text[k]))
        {
            isLetter = true;
            value = text[k++];
        }
        else
        {
            return false;
        }

        if (k >= text.Length)
        {
            return NeedMore(isFinal, out needMore);
        }

        var dot = -1;
        int suffix;
        if (text[k] == '.')
        {
            dot = k++;
            if (k >= text.Length)
            {
                return NeedMore(isFinal, out needMore);
            }

            suffix = 1;
            if (text[k] == ')')
            {
                suffix = 2;
                k++;
            }
        }
        else if (text[k] == ')')
        {
            suffix = 3;
            k++;
        }
        else
        {
            return false;
        }

        if (k >= text.Length)
        {
            return NeedMore(isFinal, out needMore);
        }

        if (text[k] != ' ')
        {
            return false;
        }

        marker = new ListMarker(bullet, spaced, isLetter, value, suffix, dot, k + 1);
        return true;
    }

    private static bool NeedMore(bool isFinal, out bool needMore)
    {
        needMore = !isFinal;
        return false;
    }
}
