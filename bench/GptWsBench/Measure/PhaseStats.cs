using System.Diagnostics;
using GptWsBench.Load;
using GptWsBench.Upstream;

namespace GptWsBench.Measure;

/// <summary>
/// What one measured phase showed, from the client's frame times and the upstream's token write times:
/// TTFT (request sent → first content frame), frame latency (upstream wrote the frame's last token → client got the
/// frame), gap stretch (client gap between two frames minus the upstream gap between their last tokens), and losses.
/// </summary>
public sealed class PhaseStats
{
    private readonly CellRecorder _recorder;

    private PhaseStats(CellRecorder recorder, Percentiles ttft, Percentiles overhead, Percentiles requestPath, Percentiles latency, Percentiles stretch)
    {
        _recorder = recorder;
        Ttft = ttft;
        TtftOverhead = overhead;
        RequestPath = requestPath;
        Latency = latency;
        Stretch = stretch;
    }

    /// <summary>Streams recorded (started inside the measured window).</summary>
    public int Streams { get; private init; }

    /// <summary>Streams that ended with finish_reason stop (or [DONE]) and no error.</summary>
    public int Completed { get; private init; }

    /// <summary>First error message seen, if any.</summary>
    public string? FirstError { get; private init; }

    /// <summary>Streams with an error.</summary>
    public int Failed { get; private init; }

    /// <summary>Tokens that never arrived (not covered by the matched text).</summary>
    public long LostTokens { get; private init; }

    /// <summary>Frames whose text did not continue the answer where the previous frame stopped (reordered, duplicated, corrupt).</summary>
    public long Reordered { get; private init; }

    /// <summary>Tokens that reached the client inside the measured window, from every stream (the CPU-per-token divisor).</summary>
    public long TokensRelayed { get; private init; }

    /// <summary>Content frames delivered in order.</summary>
    public long Frames { get; private init; }

    /// <summary>TTFT in ms.</summary>
    public Percentiles Ttft { get; }

    /// <summary>
    /// TTFT minus the upstream's own think time, in ms: (request sent → first content frame) − (upstream read the request →
    /// upstream wrote the token that completed that frame). What is left is the path's cost: request out, first frame back.
    /// </summary>
    public Percentiles TtftOverhead { get; }

    /// <summary>
    /// The request's half of <see cref="TtftOverhead"/>, in ms: client sent the request → upstream read it. The rest of
    /// the overhead is the first frame's way back; the split tells which way a TTFT tail comes from.
    /// </summary>
    public Percentiles RequestPath { get; }

    /// <summary>Frame latency in ms.</summary>
    public Percentiles Latency { get; }

    /// <summary>Gap stretch in ms.</summary>
    public Percentiles Stretch { get; }

    private static long TokensInside(CellRecorder recorder, int s, long windowStart, long windowEnd)
    {
        long tokens = 0;
        var previous = -1;
        var baseIndex = (long)s * recorder.FramesPerStream;
        for (var k = 0; k < recorder.Frames[s]; k++)
        {
            var token = recorder.FrameToken[baseIndex + k];
            var at = recorder.FrameAt[baseIndex + k];
            if (at >= windowStart && at < windowEnd)
            {
                tokens += token - previous;
            }

            previous = token;
        }

        return tokens;
    }

    /// <summary>Computes the figures of one phase.</summary>
    public static PhaseStats Compute(CellRecorder recorder, UpstreamPlan plan, long windowStart, long windowEnd, int releaseLookahead = 0)
    {
        var script = recorder.Script;
        // The upstream wrote the token that let the gateway send a frame: its last token, or the one after it for a
        // path that needs lookahead (the stream's last frame is released by the stream's end, right after its last token).
        long Released(int s, int token) => plan.Sent(s, Math.Min(token + releaseLookahead, script.Count - 1));
        var ttft = new List<double>(recorder.Streams);
        var overhead = new List<double>(recorder.Streams);
        var requestPath = new List<double>(recorder.Streams);
        var latency = new List<double>(recorder.Streams * script.Count);
        var stretch = new List<double>(recorder.Streams * script.Count);
        var ms = 1000.0 / Stopwatch.Frequency;
        int completed = 0, failed = 0;
        long lost = 0, reordered = 0, tokens = 0, frames = 0;
        string? firstError = null;
        var streams = 0;
        for (var s = 0; s < recorder.StreamsUsed; s++)
        {
            tokens += TokensInside(recorder, s, windowStart, windowEnd);
            if (!recorder.Recorded[s])
            {
                continue;
            }

            streams++;
            var covered = script.TokensWithin(recorder.Matched[s]);
            lost += script.Count - covered;
            reordered += recorder.Mismatched[s];
            if (recorder.Errors[s] is { } error)
            {
                failed++;
                firstError ??= error;
            }
            else if (recorder.Done[s])
            {
                completed++;
            }

            if (recorder.FirstAt[s] != 0 && recorder.StartedAt[s] != 0)
            {
                ttft.Add((recorder.FirstAt[s] - recorder.StartedAt[s]) * ms);
            }

            var n = recorder.Frames[s];
            frames += n;
            var baseIndex = (long)s * recorder.FramesPerStream;
            if (n > 0)
            {
                var first = recorder.FrameToken[baseIndex];
                var requestAt = plan.RequestAt[s];
                var firstSent = Released(s, first);
                if (requestAt != 0 && firstSent != 0 && recorder.StartedAt[s] != 0)
                {
                    // The first frame arrives at FrameAt[0]; FirstAt can be earlier only for a frame that failed the text check.
                    overhead.Add(((recorder.FrameAt[baseIndex] - recorder.StartedAt[s]) - (firstSent - requestAt)) * ms);
                    requestPath.Add((requestAt - recorder.StartedAt[s]) * ms);
                }
            }

            long previousAt = 0, previousSent = 0;
            for (var k = 0; k < n; k++)
            {
                var at = recorder.FrameAt[baseIndex + k];
                var sent = Released(s, recorder.FrameToken[baseIndex + k]);
                if (sent == 0)
                {
                    continue;
                }

                latency.Add((at - sent) * ms);
                if (previousAt != 0)
                {
                    stretch.Add(((at - previousAt) - (sent - previousSent)) * ms);
                }

                previousAt = at;
                previousSent = sent;
            }
        }

        return new PhaseStats(recorder, new Percentiles(ttft), new Percentiles(overhead), new Percentiles(requestPath), new Percentiles(latency), new Percentiles(stretch))
        {
            Streams = streams,
            Completed = completed,
            Failed = failed,
            FirstError = firstError,
            LostTokens = lost,
            Reordered = reordered,
            TokensRelayed = tokens,
            Frames = frames,
        };
    }
}
