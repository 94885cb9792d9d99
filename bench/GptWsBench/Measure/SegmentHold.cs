using System.Globalization;

namespace GptWsBench.Measure;

/// <summary>The daemon's <c>gptws_segment_hold_seconds</c> histogram: buckets read from /metrics, quantiles of a window.</summary>
public static class SegmentHold
{
    private const string Prefix = "gptws_segment_hold_seconds_bucket{mode=\"";

    /// <summary>Reads a bucket line's name: <c>gptws_segment_hold_seconds_bucket{mode="clause",le="0.05"}</c>.</summary>
    public static bool TryParseBucket(string name, out string mode, out double le)
    {
        mode = string.Empty;
        le = 0;
        if (!name.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = name[Prefix.Length..];
        var quote = rest.IndexOf('"', StringComparison.Ordinal);
        var leAt = rest.IndexOf("le=\"", StringComparison.Ordinal);
        if (quote < 0 || leAt < 0)
        {
            return false;
        }

        mode = rest[..quote];
        var bound = rest[(leAt + 4)..].TrimEnd('}').TrimEnd('"');
        le = bound == "+Inf" ? double.PositiveInfinity : double.Parse(bound, CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>p50 and p99 (ms) of the observations between two snapshots, interpolated inside buckets; null when none.</summary>
    public static (double P50, double P99)? Quantiles(SortedList<double, double> now, SortedList<double, double>? before)
    {
        var counts = now.Select(b => (Le: b.Key, Count: b.Value - (before?.GetValueOrDefault(b.Key) ?? 0))).ToList();
        var total = counts.Count > 0 ? counts[^1].Count : 0;
        return total <= 0 ? null : (At(counts, total * 0.5), At(counts, total * 0.99));
    }

    private static double At(List<(double Le, double Count)> cumulative, double target)
    {
        double lower = 0, below = 0;
        foreach (var (le, count) in cumulative)
        {
            if (count >= target)
            {
                if (double.IsPositiveInfinity(le))
                {
                    return lower * 1000;
                }

                var share = count > below ? (target - below) / (count - below) : 1;
                return (lower + ((le - lower) * share)) * 1000;
            }

            lower = le;
            below = count;
        }

        return lower * 1000;
    }
}
