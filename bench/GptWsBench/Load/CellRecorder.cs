using GptWsBench.Upstream;

namespace GptWsBench.Load;

/// <summary>Flat arrays holding what every stream of one phase saw; allocated up front so that no frame allocates.</summary>
public sealed class CellRecorder
{
    /// <summary>Creates room for <paramref name="streams"/> streams of <paramref name="script"/>.</summary>
    public CellRecorder(TokenScript script, int streams)
    {
        Script = script;
        Streams = streams;
        FramesPerStream = script.Count + 2;
        StartedAt = new long[streams];
        FirstAt = new long[streams];
        Frames = new int[streams];
        Matched = new int[streams];
        Mismatched = new int[streams];
        Done = new bool[streams];
        Recorded = new bool[streams];
        Errors = new string?[streams];
        FrameAt = new long[(long)streams * FramesPerStream];
        FrameToken = new int[(long)streams * FramesPerStream];
    }

    /// <summary>The answer every stream must deliver.</summary>
    public TokenScript Script { get; }

    /// <summary>Number of streams.</summary>
    public int Streams { get; }

    /// <summary>Room for frames per stream.</summary>
    public int FramesPerStream { get; }

    internal long[] StartedAt { get; }

    internal long[] FirstAt { get; }

    internal int[] Frames { get; }

    internal int[] Matched { get; }

    internal int[] Mismatched { get; }

    internal bool[] Done { get; }

    /// <summary>True for streams that started inside the measured window.</summary>
    internal bool[] Recorded { get; }

    /// <summary>Stream ids handed out (0 … StreamsUsed − 1).</summary>
    internal int StreamsUsed { get; set; }

    internal string?[] Errors { get; }

    internal long[] FrameAt { get; }

    internal int[] FrameToken { get; }

    /// <summary>The tracker for stream <paramref name="id"/>.</summary>
    public StreamTracker Begin(int id) => new(this, id);
}
