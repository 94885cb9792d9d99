using GptWsDaemon.Buffers;
using System.Buffers;

namespace GptWsDaemon.Upstream;

/// <summary>
/// Mends UTF-16 across deltas. Providers that slice text by UTF-16 units may end one delta with a high surrogate and
/// start the next with its low one (<c>"abcdef\ud83d"</c>, <c>"\ude00gh"</c>): the trailing high surrogate is held back
/// and joined with the next delta, so a frame never carries half a character and the text is what an SDK joining the
/// deltas gets. A surrogate without its partner becomes U+FFFD, as a decoder treats a broken sequence.
/// </summary>
internal struct SurrogateStitcher
{
    /// <summary>What an unpaired surrogate becomes.</summary>
    public const char Replacement = '\uFFFD';

    private char _held; // a high surrogate that ended the last delta, or '\0'

    /// <summary>Whether a high surrogate waits for the next delta.</summary>
    public readonly bool Holding => _held != '\0';

    /// <summary>
    /// Mends <c>text[0..length)</c> in place: puts the held surrogate in front, holds back a trailing high one, replaces
    /// unpaired ones. <paramref name="text"/> is a pooled buffer and may be swapped for a bigger one. Returns the new length.
    /// </summary>
    public int Mend(ref char[]? text, int length)
    {
        if (length == 0 || text is null)
        {
            return 0; // an empty delta neither pairs nor ends the held surrogate
        }

        if (_held == '\0' && text.AsSpan(0, length).IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            return length; // the usual delta: one vectorized scan, no copy
        }

        if (_held != '\0')
        {
            EnsureRoom(ref text, length, length + 1);
            text.AsSpan(0, length).CopyTo(text.AsSpan(1));
            text[0] = _held;
            _held = '\0';
            length++;
        }

        for (var i = 0; i < length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                }
                else if (i + 1 == length)
                {
                    _held = c;
                    length--;
                }
                else
                {
                    text[i] = Replacement;
                }
            }
            else if (char.IsLowSurrogate(c))
            {
                text[i] = Replacement;
            }
        }

        return length;
    }

    /// <summary>The stream ended: a held surrogate will never be paired; appends U+FFFD for it to <c>text[0..length)</c>.</summary>
    public int Flush(ref char[]? text, int length)
    {
        if (_held == '\0')
        {
            return length;
        }

        _held = '\0';
        EnsureRoom(ref text, length, length + 1);
        text[length] = Replacement;
        return length + 1;
    }

    private static void EnsureRoom([System.Diagnostics.CodeAnalysis.NotNull] ref char[]? text, int keep, int needed)
    {
        PooledBuffer.Grow(ref text, keep, Math.Max(needed, 256));
    }
}
