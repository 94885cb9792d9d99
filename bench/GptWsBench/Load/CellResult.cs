using GptWsBench.Measure;

namespace GptWsBench.Load;

/// <summary>One cell of the table: a path at a concurrency.</summary>
/// <param name="Path">Path name.</param>
/// <param name="Concurrency">Concurrent streams.</param>
/// <param name="Delay">Upstream delay between tokens.</param>
/// <param name="Stats">Client-side figures of the measured phase.</param>
/// <param name="CpuMicroseconds">Gateway utime + stime during the measured phase (null for the floor).</param>
/// <param name="PeakRssKiB">Gateway peak VmRSS during the measured phase (null for the floor).</param>
/// <param name="Elapsed">Wall time of the measured phase.</param>
/// <param name="TimedOut">True when the phase hit its time limit.</param>
public sealed record CellResult(string Path, int Concurrency, TimeSpan Delay, PhaseStats Stats, long? CpuMicroseconds, long? PeakRssKiB, TimeSpan Elapsed, bool TimedOut)
{
    /// <summary>utime + stime of the bench process (load generator + fake upstream) during the measured phase.</summary>
    public long BenchCpuMicroseconds { get; init; }

    /// <summary>The daemon's garbage collection during the measured phase (null for other paths).</summary>
    public RuntimeDelta? Runtime { get; init; }

    /// <summary>The gateway's system calls in the measured window by name (<c>--syscalls</c>), or null.</summary>
    public IReadOnlyDictionary<string, long>? Syscalls { get; init; }

    /// <summary>Bytes the daemon allocated per relayed token during the measured phase (per-stream costs included).</summary>
    public double? AllocatedBytesPerToken => Runtime is { } r && Stats.TokensRelayed > 0 ? r.AllocatedBytes / Stats.TokensRelayed : null;

    /// <summary>CPU per token of the bench process itself (load generator + fake upstream), in µs.</summary>
    public double BenchCpuPerToken => Stats.TokensRelayed > 0 ? (double)BenchCpuMicroseconds / Stats.TokensRelayed : double.NaN;

    /// <summary>Gateway CPU per relayed token in µs, or null.</summary>
    public double? CpuPerToken => CpuMicroseconds is { } cpu && Stats.TokensRelayed > 0 ? (double)cpu / Stats.TokensRelayed : null;
}
