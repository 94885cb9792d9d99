using System.Globalization;

namespace GptWsBench.Measure;

/// <summary>The daemon's garbage-collector counters at one moment, as its <c>/metrics</c> reports them.</summary>
/// <param name="AllocatedBytes">dotnet_gc_allocated_bytes_total.</param>
/// <param name="PauseSeconds">dotnet_gc_pause_seconds_total.</param>
/// <param name="Collections">dotnet_collection_count_total by generation 0, 1, 2.</param>
/// <param name="Hold">gptws_segment_hold_seconds buckets by mode: upper bound (seconds) → cumulative count.</param>
public sealed record RuntimeSample(double AllocatedBytes, double PauseSeconds, double[] Collections, IReadOnlyDictionary<string, SortedList<double, double>> Hold)
{
    /// <summary>What happened between <paramref name="earlier"/> and this sample.</summary>
    public RuntimeDelta Since(RuntimeSample earlier) => new(
        AllocatedBytes - earlier.AllocatedBytes,
        PauseSeconds - earlier.PauseSeconds,
        // A gen2 collection counts in all three counters, a gen1 in two: count each collection once, by its generation.
        Gen0: (Collections[0] - earlier.Collections[0]) - (Collections[1] - earlier.Collections[1]),
        Gen1: (Collections[1] - earlier.Collections[1]) - (Collections[2] - earlier.Collections[2]),
        Gen2: Collections[2] - earlier.Collections[2])
    {
        Hold = Hold.ToDictionary(h => h.Key, h => SegmentHold.Quantiles(h.Value, earlier.Hold.GetValueOrDefault(h.Key))),
    };
}

/// <summary>The daemon's garbage collection during a measured window.</summary>
public sealed record RuntimeDelta(double AllocatedBytes, double PauseSeconds, double Gen0, double Gen1, double Gen2)
{
    /// <summary>How long sentence modes held their pieces in the window, by mode: p50 and p99 in milliseconds (null: none).</summary>
    public IReadOnlyDictionary<string, (double P50, double P99)?> Hold { get; init; } = new Dictionary<string, (double P50, double P99)?>();

    /// <summary>Collections of any generation.</summary>
    public double Collections => Gen0 + Gen1 + Gen2;
}

/// <summary>Reads the daemon's runtime counters from its Prometheus endpoint (loopback only).</summary>
public static class RuntimeProbe
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>The metrics URL of a daemon whose WebSocket URL is <paramref name="webSocketUrl"/>.</summary>
    public static Uri MetricsUrl(Uri webSocketUrl) => new UriBuilder(webSocketUrl) { Scheme = Uri.UriSchemeHttp, Path = "/metrics" }.Uri;

    /// <summary>One sample, or null when the endpoint does not answer or lacks the counters (an older daemon).</summary>
    public static async Task<RuntimeSample?> ReadAsync(Uri metrics, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await Http.GetStringAsync(metrics, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        return Parse(text);
    }

    /// <summary>Picks the counters out of the Prometheus text format.</summary>
    public static RuntimeSample? Parse(string text)
    {
        double? allocated = null, paused = null;
        var collections = new double?[3];
        var hold = new Dictionary<string, SortedList<double, double>>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var space = line.LastIndexOf(' ');
            if (line.StartsWith('#') || space < 0 || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            var name = line[..space];
            if (SegmentHold.TryParseBucket(name, out var mode, out var le))
            {
                (hold.TryGetValue(mode, out var buckets) ? buckets : hold[mode] = []).Add(le, value);
                continue;
            }

            switch (name)
            {
                case "dotnet_gc_allocated_bytes_total": allocated = value; break;
                case "dotnet_gc_pause_seconds_total": paused = value; break;
                case "dotnet_collection_count_total{generation=\"0\"}": collections[0] = value; break;
                case "dotnet_collection_count_total{generation=\"1\"}": collections[1] = value; break;
                case "dotnet_collection_count_total{generation=\"2\"}": collections[2] = value; break;
            }
        }

        return allocated is { } a && paused is { } p && collections.All(c => c is not null)
            ? new RuntimeSample(a, p, [.. collections.Select(c => c!.Value)], hold)
            : null;
    }
}
