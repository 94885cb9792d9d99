using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// The real daemon as a child process: <c>dotnet GptWsDaemon.dll</c> from beside the test assembly, in a temp working
/// directory of its own (so no stray ./config.ini is read) with <c>GPTWS_LOG_DIR</c> inside it, the caller's variables
/// only (the daemon's own variables are removed from the inherited environment), stdout and stderr captured.
/// Dispose kills it if it is still running and deletes the directory.
/// </summary>
public sealed class DaemonProcess : IAsyncDisposable
{
    /// <summary>Variables the daemon reads; never inherited from whoever runs the tests.</summary>
    private static readonly string[] DaemonVariables =
        ["OPENAI_API_KEY", "OPENAI_BASE_URL", "GPTWS_PORT", "GPTWS_HOST", "GPTWS_CONFIG", "GPTWS_ACCESS_TOKENS", "GPTWS_LOG_LEVEL", "GPTWS_LOG_DIR", "GPTWS_ENGINE",
         "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT"];

    private readonly System.Diagnostics.Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _lock = new();

    private DaemonProcess(System.Diagnostics.Process process, string workDir, int? port)
    {
        _process = process;
        WorkDir = workDir;
        Port = port;
    }

    /// <summary>The daemon next to the test assembly (the test project references the daemon project).</summary>
    public static string DaemonDll => Path.Combine(AppContext.BaseDirectory, "GptWsDaemon.dll");

    /// <summary>The daemon's working directory, a fresh temp directory.</summary>
    public string WorkDir { get; }

    /// <summary>Where the daemon writes gptwsdaemon.log (its <c>GPTWS_LOG_DIR</c>).</summary>
    public string LogDir => Path.Combine(WorkDir, "logs");

    /// <summary>The daemon's log file.</summary>
    public string LogFile => Path.Combine(LogDir, "gptwsdaemon.log");

    /// <summary>The port given by <see cref="StartAsync"/>, or null for <see cref="Launch"/>.</summary>
    public int? Port { get; }

    /// <summary>The daemon's process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code (only after the process exited).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the daemon wrote to stdout so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_lock)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Everything the daemon wrote to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_lock)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary><c>ws://127.0.0.1:PORT/ws</c>.</summary>
    public Uri WsUri => new($"ws://127.0.0.1:{RequirePort()}/ws");

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri HttpUri => new($"http://127.0.0.1:{RequirePort()}/");

    /// <summary>
    /// Starts the daemon with <paramref name="args"/> and nothing else. <paramref name="ini"/>, when given, is written
    /// to the working directory and passed as <c>--config</c>.
    /// </summary>
    public static DaemonProcess Launch(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? ini = null) =>
        LaunchCore(args, environment, ini, null);

    /// <summary>Starts the daemon the way the README says, <c>bash run.sh</c>, from a directory outside the checkout.</summary>
    public static DaemonProcess LaunchRunScript(int port, IEnumerable<string> args) =>
        LaunchCore(["--port", port.ToString(CultureInfo.InvariantCulture), .. args], null, null, port, ["bash", RepoRoot.Combine("run.sh")]);

    /// <summary>
    /// Starts the daemon on a free loopback port (<c>--port</c> is added) and waits until <c>/healthz</c> answers.
    /// A port taken by someone else between the probe and the bind means another port and another try.
    /// </summary>
    /// <remarks><paramref name="descriptorLimit"/> runs it under <c>prlimit --nofile=N:N</c> (util-linux), as <c>ulimit -n N</c> would.</remarks>
    public static async Task<DaemonProcess> StartAsync(IEnumerable<string> args, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null, string? ini = null, int? descriptorLimit = null)
    {
        string[]? command = descriptorLimit is { } n ? ["prlimit", $"--nofile={n}:{n}", DotnetHost(), DaemonDll] : null;
        var argList = args.ToList();
        for (var attempt = 1; ; attempt++)
        {
            var port = DaemonFixture.FreePort();
            var daemon = LaunchCore(["--port", port.ToString(CultureInfo.InvariantCulture), .. argList], environment, ini, port, command);
            try
            {
                if (await daemon.TryWaitForHealthyAsync(port, cancellationToken))
                {
                    return daemon;
                }

                if (attempt >= 3 || !daemon.Stderr.Contains("cannot listen", StringComparison.Ordinal))
                {
                    Assert.Fail($"daemon exited with code {daemon.ExitCode} before /healthz answered on port {port}\n{daemon.Describe()}");
                }
            }
            catch
            {
                await daemon.DisposeAsync();
                throw;
            }

            await daemon.DisposeAsync();
        }
    }

    /// <summary>
    /// Waits until the daemon logged that it listens and <c>http://127.0.0.1:<paramref name="port"/>/healthz</c> answers
    /// 200 (both, so that a stranger on the same port is not taken for it); fails with the daemon's output if it exits
    /// or takes over 30 s.
    /// </summary>
    public async Task WaitForHealthyAsync(int port, CancellationToken cancellationToken)
    {
        if (!await TryWaitForHealthyAsync(port, cancellationToken))
        {
            Assert.Fail($"daemon exited with code {_process.ExitCode} before /healthz answered on port {port}\n{Describe()}");
        }
    }

    /// <summary>True when nothing accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<bool> IsClosedAsync(int port, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>Sends a POSIX signal with <c>kill -SIGNAL pid</c> (e.g. "TERM", "INT").</summary>
    public async Task SignalAsync(string signal, CancellationToken cancellationToken)
    {
        using var kill = System.Diagnostics.Process.Start(new ProcessStartInfo("kill", ["-" + signal, Pid.ToString(CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("cannot run kill");
        await kill.WaitForExitAsync(cancellationToken);
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal} {Pid} failed");
    }

    /// <summary>SIGKILL: the process dies at once, its sockets are closed by the kernel.</summary>
    public void KillHard()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Waits for the process to exit (and its output to be read to the end); fails with its output after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"daemon (pid {Pid}) did not exit within {timeout.TotalSeconds:0} s\n{Describe()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits until stdout contains <paramref name="text"/> (console logging is asynchronous); fails with the output after <paramref name="timeout"/>.</summary>
    public async Task WaitForStdoutAsync(string text, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"daemon stdout has no \"{text}\" after {timeout.TotalSeconds:0} s\n{Describe()}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The log file's text, or empty when there is none.</summary>
    public string ReadLogFile() => File.Exists(LogFile) ? File.ReadAllText(LogFile) : string.Empty;

    /// <summary>Pid, exit code and captured output, for failure messages.</summary>
    public string Describe()
    {
        var exit = _process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "running";
        return $"--- daemon pid {Pid}, exit {exit}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            KillHard();
        }

        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Nothing more we can do; the directory goes anyway.
        }

        _process.Dispose();
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file still open; the temp directory is cleaned by the OS eventually.
        }
    }

    /// <summary>As <see cref="WaitForHealthyAsync"/>, but false (instead of a failure) when the daemon exits first.</summary>
    private async Task<bool> TryWaitForHealthyAsync(int port, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(cancellationToken);
                return false;
            }

            if (Stdout.Contains(" listening on ", StringComparison.Ordinal))
            {
                try
                {
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"), cancellationToken);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return true;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening on this port (yet).
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // One slow probe on a busy machine; try again.
                }
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Fail($"daemon did not answer /healthz on port {port} within 30 s\n{Describe()}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private static DaemonProcess LaunchCore(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, string? ini, int? port, string[]? command = null)
    {
        Assert.That(File.Exists(DaemonDll), Is.True, $"daemon not built next to the tests: {DaemonDll}");
        command ??= [DotnetHost(), DaemonDll];
        var workDir = Directory.CreateTempSubdirectory("gptws-proc-").FullName;
        var start = new ProcessStartInfo(command[0])
        {
            WorkingDirectory = workDir,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in command[1..].Concat(args))
        {
            start.ArgumentList.Add(a);
        }

        if (ini is not null)
        {
            var iniPath = Path.Combine(workDir, "test.ini");
            File.WriteAllText(iniPath, ini);
            start.ArgumentList.Add("--config");
            start.ArgumentList.Add(iniPath);
        }

        foreach (var name in DaemonVariables)
        {
            start.Environment.Remove(name);
        }

        start.Environment["GPTWS_LOG_DIR"] = Path.Combine(workDir, "logs");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }

        var process = new System.Diagnostics.Process { StartInfo = start };
        var daemon = new DaemonProcess(process, workDir, port);
        process.OutputDataReceived += (_, e) => daemon.Append(daemon._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => daemon.Append(daemon._stderr, e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            Directory.Delete(workDir, recursive: true);
            throw new InvalidOperationException($"cannot start {start.FileName}: {e.Message}", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // The daemon never reads stdin; closing it now means it never waits on it either.
        process.StandardInput.Close();
        return daemon;
    }

    /// <summary>The dotnet host running the tests (DOTNET_HOST_PATH, set by `dotnet test`), else dotnet from PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            target.Append(line).Append('\n');
        }
    }

    private int RequirePort() => Port ?? throw new InvalidOperationException("started with Launch: no known port");
}
