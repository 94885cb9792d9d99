using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// A real nginx started from the shipped <c>deploy/nginx.conf</c>, rendered for a test: its listen port and upstream
/// ports replaced by free loopback ports, pid, logs and temp paths moved into a temp prefix directory, run in the
/// foreground as the current user. Every rewrite must find its target in the shipped file, so a change there that the
/// test no longer understands fails loudly instead of testing some other config.
/// </summary>
internal sealed partial class NginxProxy : IAsyncDisposable
{
    private static readonly string[] Candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx", "/usr/bin/nginx"];
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _lock = new();

    private NginxProxy(Process process, string prefix, int port, string config)
    {
        _process = process;
        Prefix = prefix;
        Port = port;
        Config = config;
    }

    /// <summary>The temp directory holding the rendered config, pid, logs and temp files.</summary>
    public string Prefix { get; }

    /// <summary>The loopback port nginx listens on.</summary>
    public int Port { get; }

    /// <summary>The rendered configuration.</summary>
    public string Config { get; }

    /// <summary><c>ws://127.0.0.1:PORT/ws</c> through nginx.</summary>
    public Uri WsUri => new($"ws://127.0.0.1:{Port}/ws");

    /// <summary><c>http://127.0.0.1:PORT/</c> through nginx.</summary>
    public Uri HttpUri => new($"http://127.0.0.1:{Port}/");

    /// <summary>The nginx binary; fails (never skips) when there is none.</summary>
    public static string Binary()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "nginx"));
        var found = Candidates.Concat(onPath).FirstOrDefault(File.Exists);
        if (found is null)
        {
            Assert.Fail($"nginx is not installed (looked in {string.Join(", ", Candidates)} and PATH). "
                + "Install it (Debian: apt-get install nginx-light; .ci/run does this) to run the scale-out test.");
        }

        return found!;
    }

    /// <summary>
    /// Rewrites the shipped config for a test: <c>listen 8808</c> → 127.0.0.1:<paramref name="port"/>, upstream
    /// servers 127.0.0.1:8801 and :8802 → <paramref name="backends"/>, <c>user</c> dropped (root runs its workers as
    /// root, anyone else as themselves), pid, error_log, access_log and every temp path into <paramref name="prefix"/>
    /// (the logs keep their shipped level and format). <paramref name="directives"/> replaces the arguments of
    /// directives that occur once (e.g. <c>client_header_timeout</c> → <c>2s</c>); <paramref name="errorLogLevel"/>,
    /// when given, replaces the error log's level.
    /// </summary>
    public static string Render(string shipped, string prefix, int port, IReadOnlyList<int> backends, bool runningAsRoot,
        IReadOnlyDictionary<string, string>? directives = null, string? errorLogLevel = null)
    {
        Assert.That(backends, Has.Count.EqualTo(2), "the shipped config has two upstream servers");
        // Comments go first so that only real directives are rewritten (and counted).
        var text = Comment().Replace(shipped, string.Empty);
        text = ReplaceExactlyOnce(text, Listen(), $"listen 127.0.0.1:{P(port)};", "listen 8808;");
        text = ReplaceExactlyOnce(text, Backend1(), $"127.0.0.1:{P(backends[0])}", "server 127.0.0.1:8801");
        text = ReplaceExactlyOnce(text, Backend2(), $"127.0.0.1:{P(backends[1])}", "server 127.0.0.1:8802");
        text = ReplaceExactlyOnce(text, Pid(), $"pid {prefix}/nginx.pid;", "pid …;");
        text = ReplaceAtLeastOnce(text, ErrorLog(), $"${{head}}{prefix}/error.log${{level}};", "error_log …;");
        if (errorLogLevel is not null)
        {
            text = ReplaceAtLeastOnce(text, ErrorLogLevel(), $"${{head}} {errorLogLevel};", "error_log PATH LEVEL;");
        }

        text = ReplaceAtLeastOnce(text, AccessLog(), $"${{head}}{prefix}/access.log", "access_log …;");
        foreach (var (name, arguments) in directives ?? new Dictionary<string, string>())
        {
            var directive = new Regex($@"(?m)^(?<head>\s*{Regex.Escape(name)}\s+)[^;]*;");
            text = ReplaceExactlyOnce(text, directive, $"${{head}}{arguments};", name + " …;");
        }
        text = User().Replace(text, string.Empty);
        var temps = string.Concat(new[] { "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }
            .Select(t => $"\n    {t}_temp_path {prefix}/{t}_temp;"));
        text = ReplaceExactlyOnce(text, Http(), "http {" + temps, "http {");
        return (runningAsRoot ? "user root;\n" : string.Empty) + text;
    }

    /// <summary>
    /// Renders <paramref name="shippedPath"/> into a temp prefix (see <see cref="Render"/> for <paramref name="directives"/>
    /// and <paramref name="errorLogLevel"/>), checks it with <c>nginx -t</c>, starts nginx and waits until it proxies <c>/healthz</c>.
    /// </summary>
    public static async Task<NginxProxy> StartAsync(string shippedPath, IReadOnlyList<int> backends, int port, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? directives = null, string? errorLogLevel = null)
    {
        var nginx = Binary();
        var prefix = Directory.CreateTempSubdirectory("gptws-nginx-").FullName;
        var config = Render(await File.ReadAllTextAsync(shippedPath, cancellationToken), prefix, port, backends, Environment.UserName == "root", directives, errorLogLevel);
        var configPath = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(configPath, config, cancellationToken);

        var (testCode, testOutput) = await RunAsync(nginx, ["-t", "-p", prefix + "/", "-e", prefix + "/error.log", "-c", configPath], cancellationToken);
        Assert.That(testCode, Is.Zero, $"nginx -t refused the rendered {shippedPath}:\n{testOutput}\n--- rendered:\n{config}");

        var start = new ProcessStartInfo(nginx, ["-p", prefix + "/", "-e", prefix + "/error.log", "-c", configPath, "-g", "daemon off;"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = new Process { StartInfo = start };
        var proxy = new NginxProxy(process, prefix, port, config);
        process.OutputDataReceived += (_, e) => proxy.Append(e.Data);
        process.ErrorDataReceived += (_, e) => proxy.Append(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"cannot start {nginx}: {e.Message}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await proxy.WaitUntilProxyingAsync(cancellationToken);
            return proxy;
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }
    }

    /// <summary>The rendered config's access log (empty until nginx wrote a line).</summary>
    public string AccessLogPath => Path.Combine(Prefix, "access.log");

    /// <summary>The rendered config's error log.</summary>
    public string ErrorLogPath => Path.Combine(Prefix, "error.log");

    /// <summary>nginx's master process id.</summary>
    public int MasterPid => _process.Id;

    /// <summary>nginx's own output, error log and the end of its access log, for failure messages.</summary>
    public string Describe()
    {
        string output;
        lock (_lock)
        {
            output = _output.ToString();
        }

        var accessTail = string.Join('\n', ReadLog(AccessLogPath).Split('\n').TakeLast(40));
        return $"--- nginx output:\n{output}\n--- nginx error.log:\n{ReadLog(ErrorLogPath)}\n--- nginx access.log (end):\n{accessTail}";
    }

    /// <summary>A log file's text, or empty when nginx has not created it; read while nginx may be appending.</summary>
    public static string ReadLog(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return string.Empty;
        }
    }

    /// <summary>The worker processes' ids (children of the master, read from /proc).</summary>
    public IReadOnlyList<int> WorkerPids()
    {
        var workers = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var parent = File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("PPid:", StringComparison.Ordinal));
                if (parent is not null && int.Parse(parent["PPid:".Length..].Trim(), CultureInfo.InvariantCulture) == _process.Id)
                {
                    workers.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return workers;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            if (!_process.HasExited)
            {
                // TERM is nginx's fast shutdown (QUIT would wait for the open WebSockets).
                await RunAsync("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)], cts.Token);
                await _process.WaitForExitAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(5), cts.Token);
            }
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            // Not stopping: kill the master and its workers.
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
        }

        _process.Dispose();
        try
        {
            Directory.Delete(Prefix, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("cannot run " + file);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string ReplaceExactlyOnce(string text, Regex pattern, string replacement, string what)
    {
        var count = pattern.Count(text);
        Assert.That(count, Is.EqualTo(1), $"deploy/nginx.conf should have exactly one `{what}` outside comments; found {count}");
        return pattern.Replace(text, replacement);
    }

    private static string ReplaceAtLeastOnce(string text, Regex pattern, string replacement, string what)
    {
        Assert.That(pattern.IsMatch(text), Is.True, $"deploy/nginx.conf should have `{what}` outside comments");
        return pattern.Replace(text, replacement);
    }

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private async Task WaitUntilProxyingAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"nginx exited with code {_process.ExitCode} at startup\n{Describe()}\n--- rendered:\n{Config}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(HttpUri, "/healthz"), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Fail($"nginx did not proxy /healthz within 30 s\n{Describe()}\n--- rendered:\n{Config}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _output.Append(line).Append('\n');
        }
    }

    [GeneratedRegex(@"#[^\n]*")]
    private static partial Regex Comment();

    [GeneratedRegex(@"\blisten\s+8808\s*;")]
    private static partial Regex Listen();

    [GeneratedRegex(@"(?<=\bserver\s+)127\.0\.0\.1:8801\b")]
    private static partial Regex Backend1();

    [GeneratedRegex(@"(?<=\bserver\s+)127\.0\.0\.1:8802\b")]
    private static partial Regex Backend2();

    [GeneratedRegex(@"(?m)^\s*pid\s+[^;]*;")]
    private static partial Regex Pid();

    [GeneratedRegex(@"(?m)^(?<head>\s*error_log\s+)[^\s;]+(?<level>[^;]*);")]
    private static partial Regex ErrorLog();

    [GeneratedRegex(@"(?m)^(?<head>\s*error_log\s+[^\s;]+)\s+\w+\s*;")]
    private static partial Regex ErrorLogLevel();

    [GeneratedRegex(@"(?m)^(?<head>\s*access_log\s+)[^\s;]+")]
    private static partial Regex AccessLog();

    [GeneratedRegex(@"(?m)^\s*user\s+[^;]*;")]
    private static partial Regex User();

    [GeneratedRegex(@"\bhttp\s*\{")]
    private static partial Regex Http();
}
