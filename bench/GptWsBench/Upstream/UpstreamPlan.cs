namespace GptWsBench.Upstream;

/// <summary>
/// What the fake upstream streams during one cell: the script, the delay between tokens, and where it records the
/// <see cref="System.Diagnostics.Stopwatch"/> time it wrote each token of each stream (stream id × token index).
/// </summary>
public sealed class UpstreamPlan
{
    /// <summary>Creates a plan with room for stream ids 0 … <paramref name="streams"/> − 1.</summary>
    public UpstreamPlan(TokenScript script, TimeSpan delay, int streams)
    {
        Script = script;
        Delay = delay;
        Streams = streams;
        SentAt = new long[(long)streams * script.Count];
        RequestAt = new long[streams];
    }

    /// <summary>The answer.</summary>
    public TokenScript Script { get; }

    /// <summary>Gap between two tokens; also the wait before the first one.</summary>
    public TimeSpan Delay { get; }

    /// <summary>Number of stream ids recorded.</summary>
    public int Streams { get; }

    /// <summary>Write time of token i of stream s at [s × N + i]; 0 when it was never written.</summary>
    public long[] SentAt { get; }

    /// <summary>When the upstream had read stream s's whole request, at [s]; 0 when it never came.</summary>
    public long[] RequestAt { get; }

    /// <summary>The write time of token <paramref name="token"/> of stream <paramref name="stream"/>.</summary>
    public long Sent(int stream, int token) => SentAt[((long)stream * Script.Count) + token];
}
