using System.Globalization;

namespace GptWsBench.Reporting;

/// <summary>How the report writes numbers: invariant culture, "–" for nothing measured, "n/a" for a ratio that means nothing.</summary>
internal static class Format
{
    /// <summary>Formats with the invariant culture.</summary>
    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Milliseconds (or any figure) with two decimals.</summary>
    public static string Ms(double v) => double.IsNaN(v) ? "–" : v.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>Like <see cref="Ms(double)"/> for an optional figure.</summary>
    public static string Ms(double? v) => Ms(v ?? double.NaN);

    /// <summary>A figure with one decimal, or "–".</summary>
    public static string One(double? v) => v is { } x && !double.IsNaN(x) ? x.ToString("F1", CultureInfo.InvariantCulture) : "–";

    /// <summary>a ÷ b with two decimals (negative results shown as 0), or "n/a".</summary>
    public static string Ratio(double? a, double? b)
    {
        if (a is not { } x || b is not { } y || double.IsNaN(x) || double.IsNaN(y) || y <= 0)
        {
            return "n/a";
        }

        return Math.Max(0, x / y).ToString("F2", CultureInfo.InvariantCulture);
    }

    /// <summary>"met", "MISSED" or "n/a".</summary>
    public static string Mark(bool? met) => met switch { true => "met", false => "MISSED", null => "n/a" };
}
