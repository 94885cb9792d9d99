using System.Globalization;

namespace GptWsBench.Measure;

/// <summary>
/// Reads a gateway process's CPU time (utime + stime from <c>/proc/PID/stat</c>) and resident memory (VmRSS, VmHWM from
/// <c>/proc/PID/status</c>), and samples VmRSS in the background to find a phase's peak.
/// </summary>
public sealed class ProcessProbe : IAsyncDisposable
{
    /// <summary>USER_HZ: the unit of utime/stime; 100 on every Linux architecture the bench runs on.</summary>
    public const int ClockTicksPerSecond = 100;

    private readonly int _pid;
    private CancellationTokenSource? _sampling;
    private Task _sampler = Task.CompletedTask;
    private long _peakKiB;

    /// <summary>Probes process <paramref name="pid"/>.</summary>
    public ProcessProbe(int pid) => _pid = pid;

    /// <summary>The process id.</summary>
    public int Pid => _pid;

    /// <summary>Also count the process's system calls over each measured window (<c>--syscalls</c>, <see cref="SyscallProbe"/>).</summary>
    public bool CountSyscalls { get; init; }

    /// <summary>utime + stime in microseconds (10 ms resolution).</summary>
    public long CpuMicroseconds()
    {
        var stat = File.ReadAllText($"/proc/{_pid}/stat");

        // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks * (1_000_000 / ClockTicksPerSecond);
    }

    /// <summary>A field of /proc/PID/status in KiB (VmRSS, VmHWM), or 0.</summary>
    public long StatusKiB(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{_pid}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal) && line.Length > field.Length && line[field.Length] == ':')
            {
                var value = line[(field.Length + 1)..].Trim();
                return long.Parse(value.Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>Starts sampling VmRSS every <paramref name="period"/>; <see cref="StopSamplingAsync"/> returns the peak.</summary>
    public void StartSampling(TimeSpan period)
    {
        _peakKiB = StatusKiB("VmRSS");
        _sampling = new CancellationTokenSource();
        _sampler = SampleAsync(period, _sampling.Token);
    }

    /// <summary>Stops sampling; the peak VmRSS seen, in KiB.</summary>
    public async Task<long> StopSamplingAsync()
    {
        if (_sampling is null)
        {
            return _peakKiB;
        }

        await _sampling.CancelAsync().ConfigureAwait(false);
        await _sampler.ConfigureAwait(false);
        _sampling.Dispose();
        _sampling = null;
        _peakKiB = Math.Max(_peakKiB, StatusKiB("VmRSS"));
        return _peakKiB;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync() => await StopSamplingAsync().ConfigureAwait(false);

    private async Task SampleAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                _peakKiB = Math.Max(_peakKiB, StatusKiB("VmRSS"));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
            // The process is gone.
        }
    }
}
