namespace GptWsBench.Measure;

/// <summary>Nearest-rank percentiles over a sorted copy of the samples.</summary>
public sealed class Percentiles
{
    private readonly double[] _sorted;

    /// <summary>Sorts the samples.</summary>
    public Percentiles(List<double> samples)
    {
        _sorted = [.. samples];
        Array.Sort(_sorted);
    }

    /// <summary>Number of samples.</summary>
    public int Count => _sorted.Length;

    /// <summary>The p-th percentile (0–100), NaN without samples.</summary>
    public double At(double p)
    {
        if (_sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100 * _sorted.Length) - 1;
        return _sorted[Math.Clamp(rank, 0, _sorted.Length - 1)];
    }

    /// <summary>The largest sample, NaN without samples.</summary>
    public double Max => _sorted.Length == 0 ? double.NaN : _sorted[^1];
}
