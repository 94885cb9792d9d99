using GptWsBench.Upstream;

namespace GptWsBench.Load;

/// <summary>
/// Checks and times one stream as its frames arrive. Every content frame must continue the expected answer exactly
/// where the previous one stopped (so a lost, duplicated or reordered frame is caught in both origin and sentence mode);
/// its arrival time and the last token it completes go into the <see cref="CellRecorder"/>'s arrays.
/// </summary>
public sealed class StreamTracker
{
    private readonly CellRecorder _recorder;
    private readonly TokenScript _script;
    private readonly int _id;
    private readonly int _frameBase;
    private int _offset;
    private int _frames;

    internal StreamTracker(CellRecorder recorder, int id)
    {
        _recorder = recorder;
        _script = recorder.Script;
        _id = id;
        _frameBase = id * recorder.FramesPerStream;
    }

    /// <summary>The stream id (also the upstream's record slot).</summary>
    public int Id => _id;

    /// <summary>Marks the moment the request was sent.</summary>
    public void Started(long timestamp) => _recorder.StartedAt[_id] = timestamp;

    /// <summary>A content frame arrived at <paramref name="timestamp"/> with these UTF-8 bytes.</summary>
    public void Content(ReadOnlySpan<byte> contents, long timestamp)
    {
        if (contents.IsEmpty)
        {
            return;
        }

        if (_recorder.FirstAt[_id] == 0)
        {
            _recorder.FirstAt[_id] = timestamp;
        }

        var expected = _script.Expected.AsSpan(_offset);
        if (!expected.StartsWith(contents))
        {
            _recorder.Mismatched[_id]++;
            return;
        }

        _offset += contents.Length;
        _recorder.Matched[_id] = _offset;
        if (_frames < _recorder.FramesPerStream)
        {
            _recorder.FrameAt[_frameBase + _frames] = timestamp;
            _recorder.FrameToken[_frameBase + _frames] = _script.TokenAt(_offset - 1);
            _frames++;
            _recorder.Frames[_id] = _frames;
        }
    }

    /// <summary>The final frame (or [DONE]) arrived.</summary>
    public void Finished(bool stop)
    {
        if (!stop)
        {
            Fail("finish_reason was not stop");
            return;
        }

        _recorder.Done[_id] = true;
    }

    /// <summary>The stream broke; the first reason is kept.</summary>
    public void Fail(string reason) => _recorder.Errors[_id] ??= reason;
}
