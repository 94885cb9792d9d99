using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace GptWsBench.Gateways;

/// <summary>
/// A gateway started by the bench (the daemon or Portkey): its output goes to a log file, it is probed by its PID,
/// and it is killed (by that PID only) when the bench is done with it.
/// </summary>
public sealed class GatewayProcess : IDisposable
{
    private readonly Process _process;

    private GatewayProcess(Process process, int port, string logPath)
    {
        _process = process;
        Port = port;
        LogPath = logPath;
    }

    /// <summary>The gateway's PID (the program itself: the shell wrapper execs it).</summary>
    public int Pid => _process.Id;

    /// <summary>The loopback port it listens on.</summary>
    public int Port { get; }

    /// <summary>Where its stdout and stderr go.</summary>
    public string LogPath { get; }

    /// <summary>True once it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>A free loopback port (bound to 0 and released; the small race is fine on a bench machine).</summary>
    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>Starts <paramref name="program"/> with <paramref name="arguments"/>, output appended to <paramref name="logPath"/>.</summary>
    public static GatewayProcess Start(string program, IEnumerable<string> arguments, int port, string logPath, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        // exec keeps the PID: what we probe is the gateway itself, not a shell.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=\"$1\"; shift; exec \"$@\" >>\"$log\" 2>&1");
        info.ArgumentList.Add("gateway");
        info.ArgumentList.Add(logPath);
        info.ArgumentList.Add(program);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                info.Environment[k] = v;
            }
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + program);
        return new GatewayProcess(process, port, logPath);
    }

    /// <summary>Waits until GET <paramref name="path"/> answers 200, the process exits, or the timeout passes.</summary>
    public async Task<string?> WaitReadyAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        var uri = new Uri($"http://127.0.0.1:{Port}{path}");
        return await PollAsync(
            async () =>
            {
                try
                {
                    using var response = await http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
                    return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return e.Message;
                }
            },
            "not ready",
            timeout,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until its port accepts a TCP connection (for a process that speaks no HTTP of its own), the process exits, or the timeout passes.</summary>
    public Task<string?> WaitListeningAsync(TimeSpan timeout, CancellationToken cancellationToken) => PollAsync(
        async () =>
        {
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port), cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (SocketException e)
            {
                return e.Message;
            }
        },
        "not listening",
        timeout,
        cancellationToken);

    /// <summary>Retries <paramref name="attempt"/> (null = ready, else why not) every 200 ms until it succeeds, the process exits, or the timeout passes.</summary>
    private async Task<string?> PollAsync(Func<Task<string?>> attempt, string notYet, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var last = "no answer";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                return $"exited with code {_process.ExitCode} (see {LogPath})";
            }

            if (await attempt().ConfigureAwait(false) is not { } problem)
            {
                return null;
            }

            last = problem;
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }

        return $"{notYet} after {timeout.TotalSeconds:0} s ({last}; see {LogPath})";
    }

    /// <summary>Kills the gateway (by its PID) and waits for it.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
