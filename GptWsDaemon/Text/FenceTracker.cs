namespace GptWsDaemon.Text;

/// <summary>
/// Follows Markdown code fences (``` or ~~~ at a line start) one character at a time; the default value is
/// "at a line start, outside any fence".
/// </summary>
internal struct FenceTracker
{
    private bool _pastLineStart;
    private int _indent;
    private char _runChar;
    private int _runLength;
    private bool _inFence;
    private bool _openingLine;
    private bool _closingLine;
    private char _fenceChar;
    private int _fenceLength;

    /// <summary>True when the last character advanced over belongs to a fenced block (its fence lines included,
    /// except the newline that ends the closing fence line).</summary>
    public readonly bool InFence => _inFence;

    /// <summary>Moves past one character.</summary>
    public void Advance(char c)
    {
        if (CharClass.IsNewline(c))
        {
            if (_closingLine)
            {
                _inFence = false;
            }

            _closingLine = false;
            _openingLine = false;
            _pastLineStart = false;
            _indent = 0;
            _runLength = 0;
            return;
        }

        if (_pastLineStart)
        {
            // Anything but trailing blanks after a closing run means the line is code, not a fence.
            _closingLine &= CharClass.IsWhite(c);
            return;
        }

        if (c == ' ' && _runLength == 0 && _indent < 3)
        {
            _indent++;
            return;
        }

        if (c is '`' or '~' && (_runLength == 0 || c == _runChar))
        {
            _runChar = c;
            _runLength++;
            if (_openingLine)
            {
                _fenceLength = _runLength;
            }
            else if (_inFence)
            {
                _closingLine = c == _fenceChar && _runLength >= _fenceLength;
            }
            else if (_runLength == 3)
            {
                _inFence = true;
                _openingLine = true;
                _fenceChar = c;
                _fenceLength = 3;
            }

            return;
        }

        _pastLineStart = true;
        _closingLine &= CharClass.IsWhite(c);
    }
}
