using System.Globalization;
using System.Net;
using System.Net.Sockets;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Processes;

/// <summary>
/// protocol.md §2 on the real process: "A bad flag or ini value stops startup with a one-line error naming it and exit code 2;
/// never a stack trace, never the whole help text. --help prints the usage and exits 0." Precedence: flag &gt; env &gt; ini.
/// </summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed class StartupTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Test, CancelAfter(40000)]
    public async Task Help_Flag_PrintsEveryFlagAndExitsZero(CancellationToken ct)
    {
        await using var daemon = DaemonProcess.Launch(["--help"]);
        var code = await daemon.WaitForExitAsync(ExitTimeout, ct);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero, daemon.Describe());
            foreach (var flag in new[] { "--port", "--host", "--api-key", "--base-url", "--config", "--access-token", "--demo", "--log-level" })
            {
                Assert.That(daemon.Stdout, Does.Contain(flag));
            }

            Assert.That(daemon.Stderr, Is.Empty);
        });
    }

    [Test, CancelAfter(40000)]
    public async Task Start_PortNotANumber_ExitsTwoWithOneLineNamingPort(CancellationToken ct)
    {
        // Names the flag; CommandLineParser's sentence does not echo the value "abc" itself.
        await AssertRefusedAsync(["--port", "abc"], null, ["port"], ct);
    }

    [Test, CancelAfter(40000)]
    public async Task Start_UnknownFlag_ExitsTwoWithOneLineNamingIt(CancellationToken ct)
    {
        await AssertRefusedAsync(["--bogus"], null, ["bogus"], ct);
    }

    [Test, CancelAfter(40000)]
    public async Task Start_NegativeMaxStreamsInIni_ExitsTwoWithOneLineNamingKeyAndValue(CancellationToken ct)
    {
        await AssertRefusedAsync([], "[limits]\nmax_streams = -1\n", ["max_streams", "-1"], ct);
    }

    [Test, CancelAfter(40000)]
    public async Task Start_ProviderKeyVariableMissing_ExitsTwoWithOneLineNamingIt(CancellationToken ct)
    {
        await AssertRefusedAsync([], "[provider.azure]\nkind = azure\nbase_url = https://x.openai.azure.com\napi_keys = env:GPTWS_TEST_UNSET_AZURE_KEY\n", ["provider.azure", "GPTWS_TEST_UNSET_AZURE_KEY"], ct);
    }

    [Test, CancelAfter(40000)]
    public async Task Start_ProvidersFromIni_LoggedByMaskedKeyId_LiteralKeyWarned_HealthzListsThem(CancellationToken ct)
    {
        var ini = "[provider.deepseek]\nbase_url = http://127.0.0.1:9/v1\napi_keys = env:GPTWS_TEST_DS_KEY, sk-literal-in-the-ini-9z9z\n[routes]\n* = deepseek\n";
        await using var daemon = await DaemonProcess.StartAsync([], ct, new Dictionary<string, string> { ["GPTWS_TEST_DS_KEY"] = "sk-from-the-environment-7y7y" }, ini);
        await daemon.WaitForStdoutAsync("api_keys holds a key", TimeSpan.FromSeconds(10), ct);
        using var http = new HttpClient();
        var health = await http.GetStringAsync(new Uri(daemon.HttpUri, "/healthz"), ct);

        Assert.Multiple(() =>
        {
            Assert.That(daemon.Stdout, Does.Contain("provider deepseek: openai at http://127.0.0.1:9/v1, keys …7y7y, …9z9z"));
            Assert.That(daemon.Stdout, Does.Not.Contain("DEMO MODE"));
            Assert.That(health, Does.Contain("\"upstream\":\"providers\"").And.Contain("{\"name\":\"deepseek\",\"kind\":\"openai\",\"keys\":[{\"id\":\"…7y7y\",\"state\":\"ok\"},{\"id\":\"…9z9z\",\"state\":\"ok\"}]}"));
            Assert.That(daemon.Stdout + daemon.Stderr + health, Does.Not.Contain("sk-from-the-environment").And.Not.Contain("sk-literal-in"));
        });
    }

    [TestCase("httplistener")]
    [TestCase("kestrel")]
    [CancelAfter(40000)]
    public async Task Start_PortAlreadyInUse_ExitsNonZeroWithOneLineNamingPort(string engine, CancellationToken ct)
    {
        // Two instances configured with the same port: the second must say so and stop, not hang or crash.
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var daemon = DaemonProcess.Launch(["--port", P(port), "--engine", engine]);
        var code = await daemon.WaitForExitAsync(ExitTimeout, ct);
        var lines = daemon.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Not.Zero, daemon.Describe());
            Assert.That(lines, Has.Length.EqualTo(1), "expected exactly one line on stderr\n" + daemon.Describe());
            Assert.That(daemon.Stderr, Does.Contain(P(port)));
            Assert.That(daemon.Stderr, Does.Not.Contain("Exception").And.Not.Contain("   at "), "stack trace on stderr");
        });
    }

    [Test, CancelAfter(40000)]
    public async Task Start_NoApiKey_LogsDemoModeAndNoSecurityWarning(CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync([], ct);
        await daemon.WaitForStdoutAsync("DEMO MODE", TimeSpan.FromSeconds(10), ct);
        using var http = new HttpClient();
        var health = await http.GetStringAsync(new Uri(daemon.HttpUri, "/healthz"), ct);

        Assert.Multiple(() =>
        {
            Assert.That(health, Does.Contain("\"upstream\":\"demo\""));
            // Bound to loopback (the default): nothing to warn about.
            Assert.That(daemon.Stdout, Does.Not.Contain("SECURITY"));
        });
    }

    [Test, CancelAfter(40000)]
    public async Task Start_AnyAddressWithoutTokens_WarnsSecurity(CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync(["--host", "0.0.0.0"], ct);
        await daemon.WaitForStdoutAsync("SECURITY", TimeSpan.FromSeconds(10), ct);

        var line = daemon.Stdout.Split('\n').First(l => l.Contains("SECURITY", StringComparison.Ordinal));
        Assert.That(line, Does.Contain("WARN").And.Contain("0.0.0.0").And.Contain("access-token"));
    }

    [TestCase("httplistener", true)]
    [TestCase("kestrel", false)]
    [CancelAfter(40000)]
    public async Task Start_AnyAddress_WarnsWhenTheEngineIsNotHardened(string engine, bool warns, CancellationToken ct)
    {
        await using var daemon = await DaemonProcess.StartAsync(["--host", "0.0.0.0", "--engine", engine, "--access-token", "tok-0123456789"], ct);
        var line = daemon.Stdout.Split('\n').FirstOrDefault(l => l.Contains("not hardened", StringComparison.Ordinal));

        Assert.Multiple(() =>
        {
            Assert.That(daemon.Stdout, Does.Contain($"engine {engine}"), "the listening line names the engine");
            Assert.That(line is not null, Is.EqualTo(warns), daemon.Stdout);
            if (line is not null)
            {
                Assert.That(line, Does.Contain("WARN").And.Contain("--engine kestrel").And.Contain("nginx"), "names both safe setups");
            }
        });
    }

    [Test, CancelAfter(40000)]
    public async Task Start_PortInFlagEnvAndIni_ListensOnFlagPort(CancellationToken ct)
    {
        var (ini, env, flag) = ThreePorts();
        await using var daemon = DaemonProcess.Launch(["--port", P(flag)], Env(env), IniWithPort(ini));
        await daemon.WaitForHealthyAsync(flag, ct);

        var envClosed = await DaemonProcess.IsClosedAsync(env, ct);
        var iniClosed = await DaemonProcess.IsClosedAsync(ini, ct);

        Assert.Multiple(() =>
        {
            Assert.That(envClosed, Is.True, "also listening on the env port");
            Assert.That(iniClosed, Is.True, "also listening on the ini port");
        });
    }

    [Test, CancelAfter(40000)]
    public async Task Start_PortInEnvAndIni_ListensOnEnvPort(CancellationToken ct)
    {
        var (ini, env, _) = ThreePorts();
        await using var daemon = DaemonProcess.Launch([], Env(env), IniWithPort(ini));
        await daemon.WaitForHealthyAsync(env, ct);

        Assert.That(await DaemonProcess.IsClosedAsync(ini, ct), Is.True, "also listening on the ini port");
    }

    [Test, CancelAfter(40000)]
    public async Task Start_PortInIniOnly_ListensOnIniPort(CancellationToken ct)
    {
        var (ini, _, _) = ThreePorts();
        await using var daemon = DaemonProcess.Launch([], null, IniWithPort(ini));
        await daemon.WaitForHealthyAsync(ini, ct);

        // The startup line names the port actually bound.
        await daemon.WaitForStdoutAsync($":{P(ini)}/ (WebSocket on", TimeSpan.FromSeconds(10), ct);
    }

    private static async Task AssertRefusedAsync(string[] args, string? ini, string[] mustName, CancellationToken ct)
    {
        await using var daemon = DaemonProcess.Launch(args, null, ini);
        var code = await daemon.WaitForExitAsync(ExitTimeout, ct);
        var lines = daemon.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(2), daemon.Describe());
            Assert.That(lines, Has.Length.EqualTo(1), "expected exactly one line on stderr\n" + daemon.Describe());
            foreach (var name in mustName)
            {
                Assert.That(daemon.Stderr, Does.Contain(name), "the error line does not name the bad value");
            }

            Assert.That(daemon.Stderr, Does.Not.Contain("Exception").And.Not.Contain("   at "), "stack trace on stderr");
            // Not the whole help text either.
            Assert.That(daemon.Stdout + daemon.Stderr, Does.Not.Contain("--api-key"));
        });
    }

    private static (int Ini, int Env, int Flag) ThreePorts()
    {
        var ports = new HashSet<int>();
        while (ports.Count < 3)
        {
            ports.Add(DaemonFixture.FreePort());
        }

        var list = ports.ToList();
        return (list[0], list[1], list[2]);
    }

    private static string IniWithPort(int port) => $"[server]\nport = {P(port)}\n";

    private static Dictionary<string, string> Env(int port) => new() { ["GPTWS_PORT"] = P(port) };

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);
}
