using System.Diagnostics;
using System.Globalization;

namespace GptWsBench.Measure;

/// <summary>
/// Counts a gateway's system calls over the measured window (<c>--syscalls</c>): <c>perf stat</c> on the kernel's
/// syscall tracepoints, attached to every thread of the process at the window's start and stopped (SIGINT) at its end.
/// Counting in the kernel costs well under a microsecond per call, unlike <c>strace</c>, which stops the process on
/// each one and would change what it measures. Needs perf and the right to trace (root, or perf_event_paranoid ≤ 1).
/// Threads the process starts during the window are not counted (perf attaches to those it finds at the start); the
/// warm-up before every window has made the gateways' threads by then.
/// </summary>
public sealed class SyscallProbe
{
    /// <summary>The calls counted by name (the rest count only in the total): a relay's and the daemon's per-token work.</summary>
    public static readonly string[] Named = ["recvfrom", "sendto", "recvmsg", "sendmsg", "epoll_wait", "epoll_pwait", "epoll_ctl", "futex", "sched_yield", "read", "write", "writev"];

    /// <summary>The key of the total of every system call.</summary>
    public const string Total = "all";

    private readonly Process _perf;
    private readonly string _output;

    private SyscallProbe(Process perf, string output)
    {
        _perf = perf;
        _output = output;
    }

    /// <summary>Starts counting the calls of <paramref name="pid"/>, or returns null (and says why on stderr) when perf cannot.</summary>
    public static SyscallProbe? Start(int pid)
    {
        var output = Path.Combine(Path.GetTempPath(), $"gptws-bench-syscalls-{pid}-{Environment.TickCount64}.csv");
        var info = new ProcessStartInfo("perf") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "stat", "-x", ",", "-o", output, "-e", "raw_syscalls:sys_enter" })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var name in Named)
        {
            info.ArgumentList.Add("-e");
            info.ArgumentList.Add("syscalls:sys_enter_" + name);
        }

        info.ArgumentList.Add("-p");
        info.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        try
        {
            return Process.Start(info) is { } perf ? new SyscallProbe(perf, output) : null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"[bench] --syscalls: perf not started ({e.Message})");
            return null;
        }
    }

    /// <summary>Stops counting; the counts by call name (<see cref="Total"/>: all calls), or null when perf failed.</summary>
    public async Task<IReadOnlyDictionary<string, long>?> StopAsync()
    {
        try
        {
            if (!_perf.HasExited)
            {
                // perf stat prints its counts when interrupted, as after Ctrl-C.
                Process.Start("kill", ["-INT", _perf.Id.ToString(CultureInfo.InvariantCulture)])?.WaitForExit();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _perf.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var line in File.Exists(_output) ? await File.ReadAllLinesAsync(_output).ConfigureAwait(false) : [])
            {
                // CSV: count,unit,event,… ("<not counted>" when the event could not be opened).
                var fields = line.Split(',');
                if (fields.Length >= 3 && long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var count))
                {
                    var name = fields[2] == "raw_syscalls:sys_enter" ? Total : fields[2].Replace("syscalls:sys_enter_", string.Empty, StringComparison.Ordinal);
                    counts[name] = count;
                }
            }

            if (!counts.ContainsKey(Total))
            {
                Console.Error.WriteLine("[bench] --syscalls: perf counted nothing: " + (await _perf.StandardError.ReadToEndAsync().ConfigureAwait(false)).Trim());
                return null;
            }

            return counts;
        }
        catch (OperationCanceledException)
        {
            _perf.Kill();
            return null;
        }
        finally
        {
            File.Delete(_output);
            _perf.Dispose();
        }
    }
}
