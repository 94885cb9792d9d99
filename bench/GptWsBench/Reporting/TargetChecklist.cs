using GptWsBench.Load;
using static GptWsBench.Reporting.Format;

namespace GptWsBench.Reporting;

/// <summary>One target of the checklist, judged for each engine (in the order of <see cref="RunFigures.Engines"/>).</summary>
internal sealed record TargetRow(string Target, IReadOnlyList<(string Measured, bool? Met)> PerEngine);

/// <summary>
/// The targets of the benchmark issue (daemon vs floor, bare relay and peer), of the engine issue (Kestrel at most
/// 1.25× the bare relay's CPU per token, at most 16 KiB per idle connection, no worse than HttpListener) and of the
/// "near the floor" issue (sentence CPU, TTFT and gap p99s against the bare relay's), each judged per engine.
/// </summary>
internal static class TargetChecklist
{
    /// <summary>How much worse the second engine may measure and still count as "no worse" (the machine's noise, stated in the row).</summary>
    private const double CpuTolerance = 1.05;
    private const double TtftP50ToleranceMs = 0.05;
    private const double TtftP99ToleranceMs = 0.25;

    public static List<TargetRow> Build(RunFigures f, string? peerProblem)
    {
        var o = f.Options;
        var c1 = o.Concurrency.Contains(1) ? 1 : o.Concurrency[0];
        var cMax = o.Concurrency.Max();
        var rows = new List<TargetRow>();
        void Add(string target, Func<string, (string, bool?)> judge) => rows.Add(new TargetRow(target, [.. f.Engines.Select(judge)]));

        (string, bool?) Both(string e, Func<CellResult?, double?> measure, double limit)
        {
            var or = measure(f.Get(RunFigures.Origin(e), cMax));
            var s = measure(f.Get(RunFigures.Sentence(e), cMax));
            return ($"origin {Ms(or)}, sentence {Ms(s)}", or is null || s is null ? null : or <= limit && s <= limit);
        }

        Add($"added TTFT p50 ≤ 0.5 ms at {c1} stream (ms)", e =>
        {
            var or = f.AddedTtft(RunFigures.Origin(e), c1, 50);
            var s = f.AddedTtft(RunFigures.Sentence(e), c1, 50);
            return ($"origin {Ms(or)}, sentence {Ms(s)}", or is null || s is null ? null : or <= 0.5 && s <= 0.5);
        });
        Add($"added TTFT p99 ≤ 2 ms at {cMax:N0} streams (ms)", e => Both(e, r => f.AddedTtft(r, cMax, 99), 2));
        Add("added inter-frame gap p99 ≤ 1 ms, every concurrency and mode (worst, ms)", e =>
        {
            var gaps = o.Concurrency.SelectMany(c => new[] { f.AddedGap(f.Get(RunFigures.Origin(e), c), c), f.AddedGap(f.Get(RunFigures.Sentence(e), c), c) }).OfType<double>().ToList();
            return gaps.Count == 0 ? ("–", null) : (Ms(gaps.Max()), gaps.Max() <= 1);
        });

        // Next to each CPU figure, the bare relay's (one upstream read and one client write per token, nothing else).
        var relay = f.Cpu(RunFigures.Relay, cMax);
        string Cpu(double? v) => v is not { } x ? "–" : Inv($"{x:F1} µs") + (relay is { } r ? Inv($" (×{x / r:F2} relay)") : string.Empty);
        Add(Inv($"CPU ≤ 20 µs per token at {cMax:N0} streams, origin_stream=true{(relay is { } r1 ? Inv($" (bare relay {r1:F1} µs)") : string.Empty)}"), e =>
            f.Cpu(RunFigures.Origin(e), cMax) is { } v ? (Cpu(v), v <= 20) : ("–", null));
        Add($"CPU ≤ 25 µs per token at {cMax:N0} streams, sentence segmentation", e =>
            f.Cpu(RunFigures.Sentence(e), cMax) is { } v ? (Cpu(v), v <= 25) : ("–", null));
        Add($"CPU per token ≤ 1.25× the bare relay's at {cMax:N0} streams, origin (sentence shown)", e =>
        {
            var or = f.Cpu(RunFigures.Origin(e), cMax);
            return relay is null || or is null
                ? ("–", null)
                : ($"×{Ratio(or, relay)} (sentence ×{Ratio(f.Cpu(RunFigures.Sentence(e), cMax), relay)})", or <= 1.25 * relay);
        });

        // Issue 19, "near the floor": the tails against the bare relay's of the same run, which moves the bytes and nothing else.
        var relayCell = f.Get(RunFigures.Relay, cMax);
        Add($"CPU per token ≤ 1.15× the bare relay's at {cMax:N0} streams, sentence", e =>
            f.Cpu(RunFigures.Sentence(e), cMax) is { } v && relay is { } r ? (Inv($"×{v / r:F2}"), v <= 1.15 * r) : ("–", null));
        Add($"added TTFT p99 ≤ the bare relay's + 2 ms at {cMax:N0} streams, both modes (ms above the relay's)", e =>
            f.AddedTtft(relayCell, cMax, 99) is { } r ? Both(e, c => f.AddedTtft(c, cMax, 99) - r, 2) : ("–", null));
        Add($"added gap p99 ≤ the bare relay's + 1 ms at {cMax:N0} streams, both modes (ms above the relay's)", e =>
            f.AddedGap(relayCell, cMax) is { } r ? Both(e, c => f.AddedGap(c, cMax) - r, 1) : ("–", null));

        if (f.IdleRan)
        {
            Add(Inv($"{o.Idle:N0} idle connections in ≤ 300 MiB RSS"), e =>
                f.Idle(e) is { } i ? (Inv($"{i.HeldKiB / 1024.0:F1} MiB, {i.Open:N0} open"), i.HeldKiB <= 300 * 1024 && i.Open == i.Requested) : ("–", null));
            Add("≤ 16 KiB per idle connection", e =>
                f.Idle(e) is { } i ? (Inv($"{i.KiBPerConnection:F1} KiB"), i.KiBPerConnection <= 16) : ("–", null));
        }

        Add(Inv($"{cMax:N0} concurrent streams, zero lost or reordered frames, all completed"), e =>
        {
            var big = new[] { f.Get(RunFigures.Origin(e), cMax), f.Get(RunFigures.Sentence(e), cMax) }.OfType<CellResult>().ToList();
            return (string.Join(", ", big.Select(r => Inv($"{r.Stats.Completed}/{r.Stats.Streams} ok, {r.Stats.LostTokens} lost, {r.Stats.Reordered} reordered"))),
                big.Count == 0 ? null : big.All(Clean));
        });
        Add("zero lost or reordered frames in every floor and daemon cell", e =>
        {
            var all = f.Results.Where(r => r.Path is RunFigures.Floor or RunFigures.FloorAgain || r.Path == RunFigures.Origin(e) || r.Path == RunFigures.Sentence(e)).ToList();
            return (Inv($"{all.Sum(r => r.Stats.LostTokens)} lost, {all.Sum(r => r.Stats.Reordered)} reordered, {all.Sum(r => r.Stats.Streams - r.Stats.Completed)} incomplete"), all.Count == 0 ? null : all.All(Clean));
        });

        if (peerProblem is not null)
        {
            Add("daemon added TTFT ≤ ½ peer's at every concurrency", _ => ("peer n/a: " + peerProblem, null));
            Add("daemon CPU per token ≤ ½ peer's at every concurrency", _ => ("peer n/a", null));
        }
        else
        {
            Add("daemon added TTFT p50 ≤ ½ peer's at every concurrency (origin ÷ peer)", e =>
            {
                var x = o.Concurrency.Select(c => (c, d: f.AddedTtft(RunFigures.Origin(e), c, 50), p: f.AddedTtft(RunFigures.Peer, c, 50))).ToList();
                return (string.Join(", ", x.Select(t => $"C={t.c}: {Ratio(t.d, t.p)}")), x.All(t => t.d is not null && t.p is not null) ? x.All(t => t.d <= 0.5 * t.p) : null);
            });
            Add("daemon CPU per token ≤ ½ peer's at every concurrency (origin ÷ peer, sentence ÷ peer)", e =>
            {
                var x = o.Concurrency.Select(c => (c, or: f.Cpu(RunFigures.Origin(e), c), s: f.Cpu(RunFigures.Sentence(e), c), p: f.Cpu(RunFigures.Peer, c))).ToList();
                return (string.Join(", ", x.Select(t => $"C={t.c}: {Ratio(t.or, t.p)}, {Ratio(t.s, t.p)}")), x.All(t => t.or is not null && t.p is not null) ? x.All(t => t.or <= 0.5 * t.p && (t.s is null || t.s <= 0.5 * t.p)) : null);
            });
        }

        if (f.Engines.Count > 1)
        {
            var reference = f.Engines[0];
            Add(Inv($"no worse than {reference}: CPU per token and idle KiB per connection within {(CpuTolerance - 1) * 100:0} %, added TTFT p50 within {TtftP50ToleranceMs} ms and p99 within {TtftP99ToleranceMs} ms or 10 %, every concurrency and mode"), e =>
                e == reference ? ("(the reference)", null) : NoWorse(f, reference, e));
        }

        return rows;
    }

    private static bool Clean(CellResult r) => r.Stats.LostTokens == 0 && r.Stats.Reordered == 0 && r.Stats.Completed == r.Stats.Streams;

    /// <summary>Lists every figure on which <paramref name="engine"/> measured worse than <paramref name="reference"/> beyond the tolerance, with by how much.</summary>
    private static (string, bool?) NoWorse(RunFigures f, string reference, string engine)
    {
        var worse = new List<string>();
        var compared = 0;
        foreach (var c in f.Concurrency)
        {
            foreach (var (mode, path) in new (string, Func<string, string>)[] { ("origin", RunFigures.Origin), ("sentence", RunFigures.Sentence) })
            {
                var (a, b) = (f.Get(path(reference), c), f.Get(path(engine), c));
                if (a is null || b is null)
                {
                    continue;
                }

                compared++;
                if (a.CpuPerToken is { } ca && b.CpuPerToken is { } cb && cb > ca * CpuTolerance)
                {
                    worse.Add(Inv($"CPU C={c} {mode} ×{cb / ca:F2}"));
                }

                foreach (var (p, tolerance) in new[] { (50.0, TtftP50ToleranceMs), (99.0, TtftP99ToleranceMs) })
                {
                    if (f.AddedTtft(a, c, p) is { } ta && f.AddedTtft(b, c, p) is { } tb && tb > ta + Math.Max(tolerance, Math.Abs(ta) * 0.1))
                    {
                        worse.Add(Inv($"TTFT p{p:0} C={c} {mode} +{tb - ta:F2} ms"));
                    }
                }
            }
        }

        if (f.Idle(reference) is { } ia && f.Idle(engine) is { } ib)
        {
            compared++;
            if (ib.KiBPerConnection > ia.KiBPerConnection * CpuTolerance)
            {
                worse.Add(Inv($"idle ×{ib.KiBPerConnection / ia.KiBPerConnection:F2}"));
            }
        }

        return compared == 0 ? ("–", null) : (worse.Count == 0 ? "none worse" : "worse: " + string.Join("; ", worse), worse.Count == 0);
    }
}
