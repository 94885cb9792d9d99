using System.Collections;
using System.Reflection;
using GptWsDaemon.Config;
using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Config;

/// <summary><see cref="SettingsLoader"/>: protocol.md §2 flags, environment, ini, precedence and one-line errors.</summary>
[Category("unit")]
[TestFixture]
public sealed class SettingsLoaderTests
{
    /// <summary>protocol.md §2: "[models] text-davinci-003 = gpt-3.5-turbo-instruct" is a default.</summary>
    private static readonly Dictionary<string, string> SpecAliases = new(StringComparer.Ordinal) { ["text-davinci-003"] = "gpt-3.5-turbo-instruct" };

    private static readonly Dictionary<string, string> NoEnv = new(StringComparer.Ordinal);

    private string _dir = string.Empty;

    /// <summary>Which source sets the knob in a precedence case.</summary>
    public enum Source
    {
        /// <summary>Flag, environment and ini all set: the flag wins.</summary>
        Flag,

        /// <summary>Environment and ini set: the environment wins.</summary>
        Env,

        /// <summary>Only the ini sets it.</summary>
        Ini,

        /// <summary>Nothing sets it: the default.</summary>
        Default,
    }

    public static IEnumerable<TestCaseData> PrecedenceCases()
    {
        foreach (var knob in Knobs())
        {
            foreach (var source in Enum.GetValues<Source>())
            {
                yield return new TestCaseData(knob, source).SetArgDisplayNames(knob.Name, source.ToString());
            }
        }
    }

    public static IEnumerable<TestCaseData> IniIntegerKeys()
    {
        foreach (var (section, key) in new[]
        {
            ("server", "port"), ("server", "shutdown_grace_seconds"), ("openai", "demo_token_delay_ms"), ("openai", "connect_timeout_seconds"),
            ("openai", "first_token_timeout_seconds"), ("openai", "idle_timeout_seconds"), ("openai", "max_stream_seconds"), ("openai", "max_retries"), ("openai", "retry_base_delay_ms"),
            ("limits", "max_connections"), ("limits", "streams_per_connection"), ("limits", "max_streams"), ("limits", "max_message_bytes"),
            ("limits", "max_tokens"), ("limits", "idle_timeout_seconds"), ("limits", "ping_interval_seconds"), ("limits", "send_queue_frames"),
            ("limits", "pending_message_bytes"), ("limits", "message_timeout_seconds"), ("limits", "handshake_timeout_seconds"),
            ("text", "min_chars"),
        })
        {
            foreach (var bad in new[] { "abc", "-1", "1.5", "99999999999", "0x10" })
            {
                yield return new TestCaseData(section, key, bad).SetArgDisplayNames($"{section}.{key}", bad);
            }
        }
    }

    [SetUp]
    public void CreateWorkingDirectory()
    {
        _dir = Path.Combine(Path.GetTempPath(), "gptws-settings-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteWorkingDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Load_NothingSet_YieldsDefaultsWithDemoOn()
    {
        var settings = SettingsLoader.Load(new CliOptions(), NoEnv, _dir);

        // protocol.md §2: demo is "on when no API key is set"; the text-davinci-003 alias is a default (see the ignored test below).
        AssertSameSettings(settings, new DaemonSettings { Demo = true, ModelAliases = SpecAliases });
    }

    [Test]
    public void Load_ConfigIniSample_YieldsExactlyTheDefaults()
    {
        var sample = Path.Combine(GptWsDaemon.Tests.Support.RepoRoot.Path, "config.ini.sample");
        var settings = SettingsLoader.Load(new CliOptions { Config = sample }, NoEnv, _dir);

        // "Every key below shows its default": loading the sample must change nothing.
        AssertSameSettings(settings, new DaemonSettings { Demo = true, ModelAliases = SpecAliases });
        AssertSameSettings(settings, SettingsLoader.Load(new CliOptions(), NoEnv, _dir));
    }

    [Test]
    public void Load_ConfigIniSample_NamesEveryKnownKey()
    {
        // The sample documents every tunable: each of its keys loads, and so does the whole file (no unknown key).
        var lines = File.ReadAllLines(Path.Combine(GptWsDaemon.Tests.Support.RepoRoot.Path, "config.ini.sample"));
        var keys = lines.Where(l => l.Contains('=', StringComparison.Ordinal) && !l.TrimStart().StartsWith(';')).Select(l => l.Split('=')[0].Trim()).ToList();
        Assert.That(keys, Is.SupersetOf(new[]
        {
            "port", "host", "access_tokens", "allowed_origins", "shutdown_grace_seconds", "log_level", "api_key", "base_url", "demo",
            "connect_timeout_seconds", "first_token_timeout_seconds", "idle_timeout_seconds", "max_stream_seconds", "max_retries", "retry_base_delay_ms",
            "max_connections", "streams_per_connection", "max_streams", "max_message_bytes", "max_tokens", "ping_interval_seconds",
            "segment", "min_chars", "text-davinci-003",
        }));
    }

    [Test]
    public void DaemonSettings_DefaultModelAliases_IncludeTheSpecAlias()
    {
        Assert.That(new DaemonSettings().ModelAliases, Is.EquivalentTo(SpecAliases));
    }

    [TestCaseSource(nameof(PrecedenceCases))]
    public void Load_KnobSetAtSeveralLevels_FlagBeatsEnvBeatsIniBeatsDefault(Knob knob, Source source)
    {
        var cli = new CliOptions();
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (source <= Source.Ini)
        {
            WriteIni($"[{knob.Section}]\n{knob.Key} = {knob.IniValue}\n");
        }

        if (source <= Source.Env)
        {
            env[knob.EnvName] = knob.EnvValue;
        }

        if (source == Source.Flag)
        {
            knob.SetFlag(cli);
        }

        var settings = SettingsLoader.Load(cli, env, _dir);
        var expected = source switch
        {
            Source.Flag => knob.FromFlag,
            Source.Env => knob.FromEnv,
            Source.Ini => knob.FromIni,
            _ => knob.Default,
        };
        Assert.That(knob.Read(settings), Is.EqualTo(expected));
    }

    [Test]
    public void Load_EmptyEnvironmentValue_IsUnset()
    {
        WriteIni("[server]\nport = 9100\n");
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["GPTWS_PORT"] = string.Empty, ["OPENAI_API_KEY"] = string.Empty };
        var settings = SettingsLoader.Load(new CliOptions(), env, _dir);
        Assert.That((settings.Port, settings.ApiKey, settings.Demo), Is.EqualTo((9100, (string?)null, true)));
    }

    [TestCase(null, null, null, true)]
    [TestCase("sk-abc", null, null, false)]
    [TestCase("sk-abc", "true", null, true)]
    [TestCase("sk-abc", "off", null, false)]
    [TestCase("sk-abc", null, true, true)]
    [TestCase("   ", null, null, true)]
    [TestCase(null, "false", null, true)]
    public void Load_DemoMode_OnWithoutKeyOrWhenAsked(string? apiKey, string? iniDemo, bool? flagDemo, bool demo)
    {
        if (iniDemo is not null)
        {
            WriteIni($"[openai]\ndemo = {iniDemo}\n");
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (apiKey is not null)
        {
            env["OPENAI_API_KEY"] = apiKey;
        }

        var settings = SettingsLoader.Load(new CliOptions { Demo = flagDemo ?? false }, env, _dir);
        Assert.That(settings.Demo, Is.EqualTo(demo));
        Assert.That(settings.ApiKey, Is.EqualTo(string.IsNullOrWhiteSpace(apiKey) ? null : apiKey));
    }

    [TestCase("yes", true)]
    [TestCase("on", true)]
    [TestCase("1", true)]
    [TestCase("TRUE", true)]
    [TestCase("no", false)]
    [TestCase("0", false)]
    [TestCase("", false)]
    public void Load_IniBool_AcceptsCommonSpellings(string value, bool demo)
    {
        WriteIni($"[openai]\ndemo = {value}\n");
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["OPENAI_API_KEY"] = "sk-abc" };
        Assert.That(SettingsLoader.Load(new CliOptions(), env, _dir).Demo, Is.EqualTo(demo));
    }

    [Test]
    public void Load_AccessTokensFromEnvironment_SplitsTheCommaList()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["GPTWS_ACCESS_TOKENS"] = " token-aaaa1 , ,token-bbbb2,token-cccc3, " };
        Assert.That(SettingsLoader.Load(new CliOptions(), env, _dir).AccessTokens, Is.EqualTo(new[] { "token-aaaa1", "token-bbbb2", "token-cccc3" }));
    }

    [TestCase("short")]
    [TestCase("has white space")]
    public void Load_BadAccessToken_ThrowsNamingTokens(string token)
    {
        var ex = Assert.Throws<ConfigException>(() => SettingsLoader.Load(new CliOptions { AccessTokens = ["good-token-1", token] }, NoEnv, _dir));
        Assert.That(ex.Message, Does.StartWith("access token"));
    }

    [Test]
    public void Load_ModelsSection_AddsAliasesToTheDefault()
    {
        WriteIni("[models]\ngpt-4 = gpt-4o\nmy-old = gpt-4o-mini \n");
        var aliases = SettingsLoader.Load(new CliOptions(), NoEnv, _dir).ModelAliases;
        Assert.That(aliases, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["text-davinci-003"] = "gpt-3.5-turbo-instruct", ["gpt-4"] = "gpt-4o", ["my-old"] = "gpt-4o-mini",
        }));
    }

    [Test]
    public void Load_ModelsSection_CanOverrideTheDefaultAlias()
    {
        WriteIni("[models]\ntext-davinci-003 = davinci-002\n");
        Assert.That(SettingsLoader.Load(new CliOptions(), NoEnv, _dir).ModelAliases["text-davinci-003"], Is.EqualTo("davinci-002"));
    }

    [Test]
    public void Load_EveryIniKey_IsRead()
    {
        WriteIni("""
            [server]
            allowed_origins = https://a.example/, https://b.example
            shutdown_grace_seconds = 3
            [openai]
            api_key = sk-from-ini
            demo_token_delay_ms = 5
            connect_timeout_seconds = 4
            first_token_timeout_seconds = 6
            idle_timeout_seconds = 7
            max_stream_seconds = 17
            max_retries = 0
            retry_base_delay_ms = 8
            [limits]
            max_connections = 9
            streams_per_connection = 10
            max_streams = 11
            max_message_bytes = 2048
            max_tokens = 12
            idle_timeout_seconds = 13
            ping_interval_seconds = 0
            send_queue_frames = 16
            [text]
            segment = Sentence
            min_chars = 15
            """);
        var s = SettingsLoader.Load(new CliOptions(), NoEnv, _dir);
        Assert.Multiple(() =>
        {
            Assert.That(s.AllowedOrigins, Is.EqualTo(new[] { "https://a.example", "https://b.example" }));
            Assert.That(s.ShutdownGrace, Is.EqualTo(TimeSpan.FromSeconds(3)));
            Assert.That((s.ApiKey, s.Demo), Is.EqualTo(("sk-from-ini", false)));
            Assert.That(s.DemoTokenDelay, Is.EqualTo(TimeSpan.FromMilliseconds(5)));
            Assert.That(s.ConnectTimeout, Is.EqualTo(TimeSpan.FromSeconds(4)));
            Assert.That(s.FirstTokenTimeout, Is.EqualTo(TimeSpan.FromSeconds(6)));
            Assert.That(s.UpstreamIdleTimeout, Is.EqualTo(TimeSpan.FromSeconds(7)));
            Assert.That(s.MaxStreamDuration, Is.EqualTo(TimeSpan.FromSeconds(17)));
            Assert.That(s.MaxRetries, Is.Zero);
            Assert.That(s.RetryBaseDelay, Is.EqualTo(TimeSpan.FromMilliseconds(8)));
            Assert.That(s.MaxConnections, Is.EqualTo(9));
            Assert.That(s.StreamsPerConnection, Is.EqualTo(10));
            Assert.That(s.MaxStreams, Is.EqualTo(11));
            Assert.That(s.MaxMessageBytes, Is.EqualTo(2048));
            Assert.That(s.MaxTokens, Is.EqualTo(12));
            Assert.That(s.ConnectionIdleTimeout, Is.EqualTo(TimeSpan.FromSeconds(13)));
            Assert.That(s.PingInterval, Is.EqualTo(TimeSpan.Zero));
            Assert.That(s.SendQueueFrames, Is.EqualTo(16));
            Assert.That(s.Segment, Is.EqualTo(SegmentMode.Sentence));
            Assert.That(s.MinChars, Is.EqualTo(15));
        });
    }

    [Test]
    public void Load_IniSectionAndKeyCase_IsIgnored()
    {
        WriteIni("[Server]\nPORT = 9200\n[LIMITS]\nMax_Streams = 5\n");
        var s = SettingsLoader.Load(new CliOptions(), NoEnv, _dir);
        Assert.That((s.Port, s.MaxStreams), Is.EqualTo((9200, 5)));
    }

    [Test]
    public void Load_ConfigPaths_ResolveAgainstTheWorkingDirectory()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "etc"));
        File.WriteAllText(Path.Combine(_dir, "etc", "a.ini"), "[server]\nport = 9301\n");
        File.WriteAllText(Path.Combine(_dir, "etc", "b.ini"), "[server]\nport = 9302\n");
        WriteIni("[server]\nport = 9300\n");
        var fromEnv = new Dictionary<string, string>(StringComparer.Ordinal) { ["GPTWS_CONFIG"] = "etc/b.ini" };
        Assert.Multiple(() =>
        {
            Assert.That(SettingsLoader.Load(new CliOptions(), NoEnv, _dir).Port, Is.EqualTo(9300), "./config.ini when present");
            Assert.That(SettingsLoader.Load(new CliOptions { Config = "etc/a.ini" }, NoEnv, _dir).Port, Is.EqualTo(9301));
            Assert.That(SettingsLoader.Load(new CliOptions(), fromEnv, _dir).Port, Is.EqualTo(9302));
            Assert.That(SettingsLoader.Load(new CliOptions { Config = "etc/a.ini" }, fromEnv, _dir).Port, Is.EqualTo(9301), "flag > environment");
        });
    }

    [TestCaseSource(nameof(IniIntegerKeys))]
    public void Load_BadIniInteger_ThrowsNamingTheKey(string section, string key, string value)
    {
        WriteIni($"[{section}]\n{key} = {value}\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), $"config.ini: {section}.{key}", value);
    }

    [TestCase("limits", "max_streams", "0")]
    [TestCase("limits", "max_message_bytes", "1023")]
    [TestCase("server", "port", "0")]
    [TestCase("server", "port", "65536")]
    [TestCase("limits", "send_queue_frames", "15")]
    [TestCase("openai", "max_retries", "11")]
    public void Load_IniIntegerOutOfRange_ThrowsNamingTheKey(string section, string key, string value)
    {
        WriteIni($"[{section}]\n{key} = {value}\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), $"config.ini: {section}.{key}", value);
    }

    [Test]
    public void Load_BadPortFromEachSource_NamesThatSource()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["GPTWS_PORT"] = "http" };
        Assert.Multiple(() =>
        {
            AssertConfigError(() => SettingsLoader.Load(new CliOptions { Port = "0" }, NoEnv, _dir), "--port", "0");
            AssertConfigError(() => SettingsLoader.Load(new CliOptions { Port = "70000" }, NoEnv, _dir), "--port", "70000");
            AssertConfigError(() => SettingsLoader.Load(new CliOptions(), env, _dir), "GPTWS_PORT", "http");
        });
    }

    [Test]
    public void Load_UnknownIniKey_ThrowsNamingIt()
    {
        WriteIni("[server]\nport = 8808\nprot = 1\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "unknown key server.prot");
    }

    [Test]
    public void Load_KeyOfAnotherSection_IsUnknown()
    {
        WriteIni("[server]\nmax_streams = 5\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "unknown key server.max_streams");
    }

    [Test]
    public void Load_UnknownIniSection_ThrowsNamingIt()
    {
        WriteIni("[srever]\nport = 1\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "unknown section [srever]");
    }

    [TestCase("maybe")]
    [TestCase("2")]
    [TestCase("enabled")]
    public void Load_BadIniBool_ThrowsNamingTheKey(string value)
    {
        WriteIni($"[openai]\ndemo = {value}\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "openai.demo", value);
    }

    [TestCase("ftp://example.com/v1")]
    [TestCase("api.openai.com/v1")]
    [TestCase("/v1")]
    [TestCase("not a url")]
    [TestCase("file:///etc/passwd")]
    public void Load_BadBaseUrlFromEachSource_NamesThatSource(string url)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["OPENAI_BASE_URL"] = url };
        Assert.Multiple(() =>
        {
            AssertConfigError(() => SettingsLoader.Load(new CliOptions { BaseUrl = url }, NoEnv, _dir), "--base-url", url);
            AssertConfigError(() => SettingsLoader.Load(new CliOptions(), env, _dir), "OPENAI_BASE_URL", url);
        });
        WriteIni($"[openai]\nbase_url = {url}\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "config.ini: openai.base_url", url);
    }

    [TestCase("https://api.openai.com/v1/", "https://api.openai.com/v1")]
    [TestCase("http://127.0.0.1:8080/v1//", "http://127.0.0.1:8080/v1")]
    [TestCase("https://my-resource.openai.azure.com/openai/deployments/x", "https://my-resource.openai.azure.com/openai/deployments/x")]
    public void Load_BaseUrl_LosesTrailingSlashes(string url, string expected)
    {
        Assert.That(SettingsLoader.Load(new CliOptions { BaseUrl = url }, NoEnv, _dir).BaseUrl, Is.EqualTo(expected));
    }

    [Test]
    public void Load_MissingConfigFile_ThrowsNamingTheFlag()
    {
        AssertConfigError(() => SettingsLoader.Load(new CliOptions { Config = "nope.ini" }, NoEnv, _dir), "--config", "nope.ini");
    }

    [Test]
    public void Load_MissingConfigFileFromEnvironment_ThrowsNamingTheVariable()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["GPTWS_CONFIG"] = "/nonexistent/gptws.ini" };
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), env, _dir), "GPTWS_CONFIG", "/nonexistent/gptws.ini");
    }

    [Test]
    public void Load_NoConfigIniAndNoFlag_IsFine()
    {
        Assert.That(SettingsLoader.Load(new CliOptions(), NoEnv, _dir).Port, Is.EqualTo(8808));
    }

    [Test]
    public void Load_UnreadableIni_ThrowsOneLine()
    {
        WriteIni("[server]\nport = 1\nport = 2\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "config.ini");
    }

    [Test]
    public void Load_BadLogLevel_ThrowsNamingTheSource()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["GPTWS_LOG_LEVEL"] = "verbose" };
        Assert.Multiple(() =>
        {
            AssertConfigError(() => SettingsLoader.Load(new CliOptions { LogLevel = "loud" }, NoEnv, _dir), "--log-level", "loud");
            AssertConfigError(() => SettingsLoader.Load(new CliOptions(), env, _dir), "GPTWS_LOG_LEVEL", "verbose");
        });
    }

    [TestCase("")]
    [TestCase("my host")]
    [TestCase("http://0.0.0.0/")]
    public void Load_BadHost_ThrowsNamingTheFlag(string host)
    {
        AssertConfigError(() => SettingsLoader.Load(new CliOptions { Host = host }, NoEnv, _dir), "--host");
    }

    [Test]
    public void Load_BadSegment_ThrowsNamingTheKey()
    {
        WriteIni("[text]\nsegment = word\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "text.segment", "word");
    }

    [Test]
    public void Load_EmptyModelAlias_ThrowsNamingIt()
    {
        WriteIni("[models]\ngpt-4 =\n");
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir), "models.gpt-4");
    }

    /// <summary>One protocol.md §2 knob that flag, environment and ini can all set.</summary>
    public sealed record Knob(
        string Name, string Section, string Key, string EnvName, string IniValue, string EnvValue, Action<CliOptions> SetFlag,
        object? FromIni, object? FromEnv, object? FromFlag, object? Default, Func<DaemonSettings, object?> Read)
    {
        /// <inheritdoc/>
        public override string ToString() => Name;
    }

    private static IEnumerable<Knob> Knobs() =>
    [
        new("port", "server", "port", "GPTWS_PORT", "9001", "9002", c => c.Port = "9003", 9001, 9002, 9003, 8808, s => s.Port),
        new("host", "server", "host", "GPTWS_HOST", "10.0.0.1", "0.0.0.0", c => c.Host = "localhost", "10.0.0.1", "0.0.0.0", "localhost", "127.0.0.1", s => s.Host),
        new("api key", "openai", "api_key", "OPENAI_API_KEY", "sk-ini-0000", "sk-env-0000", c => c.ApiKey = "sk-flag-0000", "sk-ini-0000", "sk-env-0000", "sk-flag-0000", null, s => s.ApiKey),
        new("base url", "openai", "base_url", "OPENAI_BASE_URL", "http://ini.example/v1", "https://env.example/v1/", c => c.BaseUrl = "http://127.0.0.1:9/v1", "http://ini.example/v1", "https://env.example/v1", "http://127.0.0.1:9/v1", "https://api.openai.com/v1", s => s.BaseUrl),
        new("engine", "server", "engine", "GPTWS_ENGINE", "kestrel", "httplistener", c => c.Engine = "Kestrel", "Kestrel", "HttpListener", "Kestrel", "HttpListener", s => s.Engine.ToString()),
        new("log level", "server", "log_level", "GPTWS_LOG_LEVEL", "Debug", "Warn", c => c.LogLevel = "Trace", "Debug", "Warn", "Trace", "Info", s => s.LogLevel),
        new("tokens", "server", "access_tokens", "GPTWS_ACCESS_TOKENS", "ini-token-1, ini-token-2", "env-token-1,env-token-2", c => c.AccessTokens = ["flag-token-1", "flag-token-2"], "ini-token-1|ini-token-2", "env-token-1|env-token-2", "flag-token-1|flag-token-2", string.Empty, s => string.Join('|', s.AccessTokens)),
    ];

    [TestCase("nginx")]
    [TestCase("")]
    [TestCase("kestrel2")]
    public void Load_UnknownEngine_ThrowsNamingTheChoices(string engine)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["GPTWS_ENGINE"] = engine.Length == 0 ? " " : engine };
        AssertConfigError(() => SettingsLoader.Load(new CliOptions(), env, _dir), "GPTWS_ENGINE", "httplistener or kestrel");
    }

    private static void AssertConfigError(TestDelegate load, params string[] mentions)
    {
        var ex = Assert.Throws<ConfigException>(load);
        Assert.Multiple(() =>
        {
            foreach (var m in mentions)
            {
                Assert.That(ex.Message, Does.Contain(m));
            }

            Assert.That(ex.Message, Does.Not.Contain('\n'), "one line");
            Assert.That(ex.Message, Has.Length.LessThan(300));
        });
    }

    private static void AssertSameSettings(DaemonSettings actual, DaemonSettings expected)
    {
        var properties = typeof(DaemonSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        Assert.That(properties, Has.Length.GreaterThanOrEqualTo(27), "every property is compared");
        Assert.Multiple(() =>
        {
            foreach (var p in properties)
            {
                var a = p.GetValue(actual);
                var e = p.GetValue(expected);
                if (e is IReadOnlyDictionary<string, string> map)
                {
                    Assert.That(a, Is.EquivalentTo(map), p.Name);
                }
                else if (e is IEnumerable list and not string)
                {
                    Assert.That(a, Is.EqualTo(list).AsCollection, p.Name);
                }
                else
                {
                    Assert.That(a, Is.EqualTo(e), p.Name);
                }
            }
        });
    }

    [Test]
    public void ResumeSection_KeysRead_AndABadStorePolicyIsAOneLineError()
    {
        WriteIni("[resume]\nhold_seconds = 5\nkeep_seconds = 7\nmax_log_bytes = 65536\nmax_total_bytes = 1048576\nmax_log_frames = 500\non_store_error = memory\n");
        var resume = SettingsLoader.Load(new CliOptions(), NoEnv, _dir).Resume;
        Assert.That(resume, Is.EqualTo(new GptWsDaemon.Streams.ResumeSettings
        {
            Hold = TimeSpan.FromSeconds(5), Keep = TimeSpan.FromSeconds(7), MaxLogBytes = 65536, MaxTotalBytes = 1 << 20, MaxLogFrames = 500, MemoryOnStoreError = true,
        }));

        WriteIni("[resume]\non_store_error = sometimes\n");
        var bad = Assert.Throws<ConfigException>(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir));
        Assert.That(bad!.Message, Does.Contain("resume.on_store_error").And.Not.Contain("\n"));
        WriteIni("[resume]\nhold_seconds = 0\n");
        Assert.Throws<ConfigException>(() => SettingsLoader.Load(new CliOptions(), NoEnv, _dir));
    }

    private void WriteIni(string text) => File.WriteAllText(Path.Combine(_dir, "config.ini"), text);
}
