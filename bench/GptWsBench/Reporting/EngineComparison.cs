using System.Text;
using GptWsBench.Load;
using static GptWsBench.Reporting.Format;

namespace GptWsBench.Reporting;

/// <summary>
/// The daemon's engines side by side: per concurrency and mode, each figure for the reference engine (the first of
/// <c>--engines</c>) and the other, with other ÷ reference where a ratio means something; then idle memory per connection.
/// </summary>
internal static class EngineComparison
{
    /// <summary>The table, or an empty string with fewer than two engines.</summary>
    public static string Table(RunFigures f)
    {
        if (f.Engines.Count < 2)
        {
            return string.Empty;
        }

        // The reference against each other daemon of the run (another engine, a baseline build, a configuration variant).
        var sb = new StringBuilder();
        foreach (var other in f.Engines.Skip(1))
        {
            sb.Append(Pair(f, f.Engines[0], other)).AppendLine();
        }

        return sb.ToString().TrimEnd() + Environment.NewLine;
    }

    private static string Pair(RunFigures f, string a, string b)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Each cell: {a} / {b} ({b} ÷ {a}).").AppendLine();
        sb.AppendLine("| streams | mode | added TTFT p50 ms | added TTFT p99 ms | added gap p99 ms | CPU µs per token | CPU ÷ bare relay | peak RSS MiB | allocated B per token |");
        sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in f.Concurrency)
        {
            var relay = f.Cpu(RunFigures.Relay, c);
            foreach (var (mode, path) in new (string, Func<string, string>)[] { ("origin", RunFigures.Origin), ("sentence", RunFigures.Sentence) })
            {
                var (ra, rb) = (f.Get(path(a), c), f.Get(path(b), c));
                if (ra is null && rb is null)
                {
                    continue;
                }

                string Pair(Func<CellResult?, double?> figure, Func<double?, string> show, bool ratio = true)
                {
                    var (x, y) = (figure(ra), figure(rb));
                    return $"{show(x)} / {show(y)}" + (ratio && x > 0 && y >= 0 ? $" (×{Ratio(y, x)})" : string.Empty);
                }

                sb.AppendLine(Inv($"| {c:N0} | {mode} | {Pair(r => f.AddedTtft(r, c, 50), Ms)} | {Pair(r => f.AddedTtft(r, c, 99), Ms)} | {Pair(r => f.AddedGap(r, c), Ms)} | ")
                    + Inv($"{Pair(r => r?.CpuPerToken, One)} | {Pair(r => r?.CpuPerToken / relay, Ms, ratio: false)} | {Pair(r => r?.PeakRssKiB / 1024.0, v => v is { } m ? Inv($"{m:F0}") : "–")} | {Pair(r => r?.AllocatedBytesPerToken, v => v is { } n ? Inv($"{n:F0}") : "–")} |"));
            }
        }

        if (f.Idle(a) is { } ia && f.Idle(b) is { } ib)
        {
            sb.AppendLine().AppendLine(Inv($"Idle ({ia.Open:N0} / {ib.Open:N0} connections open): {ia.KiBPerConnection:F1} / {ib.KiBPerConnection:F1} KiB per connection (×{ib.KiBPerConnection / ia.KiBPerConnection:F2}), ")
                + Inv($"VmRSS {ia.BaselineKiB / 1024.0:F1} → {ia.HeldKiB / 1024.0:F1} MiB / {ib.BaselineKiB / 1024.0:F1} → {ib.HeldKiB / 1024.0:F1} MiB."));
        }

        return sb.ToString();
    }

    /// <summary>The headline's part: other ÷ reference CPU per token per concurrency, origin and sentence.</summary>
    public static string Headline(RunFigures f)
    {
        if (f.Engines.Count < 2)
        {
            return string.Empty;
        }

        var (a, b) = (f.Engines[0], f.Engines[1]);
        var origin = string.Join("/", f.Concurrency.Select(c => Ratio(f.Cpu(RunFigures.Origin(b), c), f.Cpu(RunFigures.Origin(a), c))));
        var sentence = string.Join("/", f.Concurrency.Select(c => Ratio(f.Cpu(RunFigures.Sentence(b), c), f.Cpu(RunFigures.Sentence(a), c))));
        return $"; {b}÷{a} CPU/token origin = {origin}, sentence = {sentence}";
    }
}
