using System.Text;

namespace GptWsDaemon.Text;

/// <summary>
/// Removes Markdown that is not meant to be spoken (protocol.md §5.5, <c>"markdown": "strip"</c>), incrementally: fed
/// deltas, it writes out what it has decided and holds back only what the next characters decide (a <c>*</c> before
/// its neighbour, a line start before its marker, a <c>[</c> before its <c>](…)</c>). Any chunking gives the same text
/// as stripping the whole answer at once. Removed: emphasis and strike markers, heading <c>#</c>s, list bullets and
/// numbers, block quotes, rules, inline-code backticks, link and image syntax (the text stays), fenced code blocks
/// (dropped, or replaced by a placeholder), table pipes and separator rows.
/// </summary>
public sealed class MarkdownStripper
{
    private const int LinkTextReach = 300;
    private const int LinkUrlReach = 500;
    private const int LinePrefixReach = 16;
    private readonly StringBuilder _pending = new();
    private readonly string _codePlaceholder;
    private bool _lineStart = true;
    private bool _inFence;
    private bool _tableRow;
    private char _prev = '\n';

    /// <summary>Creates a stripper; a fenced code block becomes <paramref name="codePlaceholder"/> (nothing when empty).</summary>
    public MarkdownStripper(string? codePlaceholder = null) => _codePlaceholder = codePlaceholder ?? string.Empty;

    /// <summary>Feeds a delta; appends to <paramref name="output"/> what is decided.</summary>
    public void Append(ReadOnlySpan<char> text, StringBuilder output)
    {
        _pending.Append(text);
        Drain(output, final: false);
    }

    /// <summary>Ends the text: everything held back is decided and written.</summary>
    public void Complete(StringBuilder output)
    {
        Drain(output, final: true);
        _pending.Clear();
        _lineStart = true;
        _inFence = _tableRow = false;
        _prev = '\n';
    }

    private void Drain(StringBuilder output, bool final)
    {
        var text = _pending.ToString();
        var i = 0;
        while (i < text.Length)
        {
            var used = Step(text.AsSpan(i), final, output);
            if (used == 0)
            {
                break; // the rest waits for more text
            }

            i += used;
        }

        _pending.Remove(0, i);
    }

    /// <summary>Decides at the start of <paramref name="s"/>: characters consumed, or 0 when the next ones must be seen first.</summary>
    private int Step(ReadOnlySpan<char> s, bool final, StringBuilder output)
    {
        if (_inFence || _lineStart)
        {
            var line = s.IndexOf('\n');
            var prefix = line < 0 ? s : s[..line];
            if (_inFence)
            {
                if (_lineStart && prefix.Length < 3 && line < 0 && !final)
                {
                    return 0;
                }

                if (_lineStart && (prefix.TrimStart(' ').StartsWith("```") || prefix.TrimStart(' ').StartsWith("~~~")))
                {
                    if (line < 0 && !final)
                    {
                        return 0;
                    }

                    _inFence = false; // the closing fence line goes too
                    return EndLine(line, s.Length);
                }

                // Code is never spoken: drop to the end of the line.
                _lineStart = line >= 0;
                return line < 0 ? s.Length : line + 1;
            }

            var lead = prefix.TrimStart(' ');
            if (lead.IsEmpty && line < 0 && !final)
            {
                return 0;
            }

            if (!lead.IsEmpty && !MayMark(lead[0]))
            {
                _lineStart = false; // plain text: decided at once, nothing held back
                return Inline(s, final, output);
            }

            if (line < 0 && prefix.Length < LinePrefixReach && !final)
            {
                return 0; // a line's marker is decided with its first characters (or its end)
            }

            var marker = LineMarker(prefix, line >= 0 || final, output);
            if (marker != 0)
            {
                return marker;
            }

            _lineStart = false;
        }

        return Inline(s, final, output);
    }

    /// <summary>Consumes a line-start marker; 0 when the line starts with text. May set <see cref="_inFence"/>.</summary>
    private int LineMarker(ReadOnlySpan<char> prefix, bool lineComplete, StringBuilder output)
    {
        var indent = 0;
        while (indent < prefix.Length && indent < 3 && prefix[indent] == ' ')
        {
            indent++;
        }

        var rest = prefix[indent..];
        if (rest.StartsWith("```") || rest.StartsWith("~~~"))
        {
            _inFence = true;
            _lineStart = false; // the rest of the fence line (its language) is dropped by the fence branch
            if (_codePlaceholder.Length > 0)
            {
                Emit(output, _codePlaceholder + "\n", 0);
            }

            return indent + 3;
        }

        if (lineComplete && rest.Length >= 3 && rest.Trim(' ').Length >= 3 && IsRule(rest))
        {
            return prefix.Length; // a horizontal rule: the line goes, its newline stays
        }

        if (rest.Length > 0 && rest[0] == '|')
        {
            _tableRow = true;
            if (lineComplete && rest.IndexOfAnyExcept("|-: ") < 0)
            {
                return prefix.Length; // the |---|---| separator row
            }

            _lineStart = false;
            return indent + 1;
        }

        var hashes = 0;
        while (hashes < rest.Length && hashes < 7 && rest[hashes] == '#')
        {
            hashes++;
        }

        if (hashes is >= 1 and <= 6 && hashes < rest.Length && rest[hashes] == ' ')
        {
            _lineStart = false;
            return indent + hashes + 1;
        }

        if (rest.Length >= 2 && rest[0] is '-' or '*' or '+' && rest[1] == ' ')
        {
            _lineStart = false;
            return indent + 2;
        }

        if (rest.Length >= 1 && rest[0] == '>')
        {
            return indent + (rest.Length >= 2 && rest[1] == ' ' ? 2 : 1); // a list may follow: still at the line's start
        }

        var digits = 0;
        while (digits < rest.Length && digits < 9 && char.IsAsciiDigit(rest[digits]))
        {
            digits++;
        }

        if (digits > 0 && digits + 1 < rest.Length && rest[digits] is '.' or ')' && rest[digits + 1] == ' ')
        {
            _lineStart = false;
            return indent + digits + 2;
        }

        return 0;
    }

    private int Inline(ReadOnlySpan<char> s, bool final, StringBuilder output)
    {
        var c = s[0];
        switch (c)
        {
            case '\n':
                _lineStart = true;
                _tableRow = false;
                return Emit(output, "\n", 1);
            case '`':
                return Run(s, '`');
            case '|' when _tableRow:
                return Emit(output, " ", 1);
            case '\\' when s.Length < 2 && !final:
                return 0;
            case '\\' when s.Length >= 2 && char.IsAsciiLetterOrDigit(s[1]) is false && !char.IsWhiteSpace(s[1]):
                return Emit(output, s.Slice(1, 1), 2);
            case '*' or '_' or '~':
                return Emphasis(s, final, output);
            case '!' when s.Length < 2 && !final:
                return 0;
            case '!' when s.Length >= 2 && s[1] == '[':
                var image = Link(s[1..], final, output);
                return image == 0 ? 0 : image < 0 ? Emit(output, "!", 1) : image + 1;
            case '[':
                var link = Link(s, final, output);
                return link == 0 ? 0 : link < 0 ? Emit(output, "[", 1) : link;
            default:
                return Emit(output, s[..1], 1);
        }
    }

    /// <summary>A run of <c>*</c>, <c>_</c> or <c>~</c>: markup unless it is plainly text (snake_case, <c>2 * 3</c>, <c>~5</c>).</summary>
    private int Emphasis(ReadOnlySpan<char> s, bool final, StringBuilder output)
    {
        var c = s[0];
        var run = 1;
        while (run < s.Length && s[run] == c)
        {
            run++;
        }

        if (run == s.Length && !final)
        {
            return 0; // what follows the run decides
        }

        var next = run < s.Length ? s[run] : ' ';
        var text = (c == '_' && char.IsLetterOrDigit(_prev) && char.IsLetterOrDigit(next))
            || (c == '*' && char.IsWhiteSpace(_prev) && char.IsWhiteSpace(next))
            || (c == '~' && run == 1);
        return text ? Emit(output, s[..run], run) : run;
    }

    /// <summary><c>[text](url)</c> → text: characters consumed; 0 to wait for more; −1 when it is no link.</summary>
    private int Link(ReadOnlySpan<char> s, bool final, StringBuilder output)
    {
        var close = s[1..].IndexOfAny(']', '\n');
        if (close < 0)
        {
            return s.Length > LinkTextReach || final ? -1 : 0;
        }

        close++;
        if (s[close] == '\n' || close > LinkTextReach)
        {
            return -1;
        }

        if (close + 1 >= s.Length)
        {
            return final ? -1 : 0;
        }

        if (s[close + 1] != '(')
        {
            return -1;
        }

        var end = s[(close + 2)..].IndexOfAny(')', '\n');
        if (end < 0)
        {
            return s.Length - close > LinkUrlReach || final ? -1 : 0;
        }

        end += close + 2;
        if (s[end] == '\n' || end - close > LinkUrlReach)
        {
            return -1;
        }

        foreach (var ch in s[1..close])
        {
            if (ch is not ('*' or '_' or '`'))
            {
                output.Append(ch);
                _prev = ch;
            }
        }

        return end + 1;
    }

    private static int Run(ReadOnlySpan<char> s, char c)
    {
        var run = 1;
        while (run < s.Length && s[run] == c)
        {
            run++;
        }

        return run;
    }

    private int EndLine(int line, int length)
    {
        _lineStart = line >= 0;
        return line < 0 ? length : line + 1;
    }

    private int Emit(StringBuilder output, ReadOnlySpan<char> text, int consumed)
    {
        if (!text.IsEmpty)
        {
            output.Append(text);
            _prev = text[^1];
        }

        return consumed;
    }

    private int Emit(StringBuilder output, string text, int consumed) => Emit(output, text.AsSpan(), consumed);

    /// <summary>Whether a line starting with <paramref name="c"/> may start with markup.</summary>
    private static bool MayMark(char c) => c is '#' or '-' or '*' or '+' or '>' or '|' or '`' or '~' or '_' || char.IsAsciiDigit(c);

    private static bool IsRule(ReadOnlySpan<char> rest)
    {
        var trimmed = rest.Trim(' ');
        var c = trimmed[0];
        return c is '-' or '*' or '_' && trimmed.IndexOfAnyExcept(c, ' ') < 0;
    }
}
