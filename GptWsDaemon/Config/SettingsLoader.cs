using System.Collections;
using System.Globalization;
using GptWsDaemon.Server.Engines;
using GptWsDaemon.Text;
using GptWsDaemon.Upstream.Providers;
using Microsoft.Extensions.Configuration;

namespace GptWsDaemon.Config;

/// <summary>
/// Resolves <see cref="DaemonSettings"/> from flags, environment and ini.
/// protocol.md §2: "Precedence: flag &gt; environment &gt; ini &gt; default."
/// </summary>
public sealed class SettingsLoader
{
    private static readonly Dictionary<string, string[]> KnownIniKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        ["server"] = ["port", "host", "engine", "access_tokens", "access_tokens_file", "admin_tokens", "trusted_proxies", "allowed_origins", "shutdown_grace_seconds", "log_level"],
        ["openai"] = ["api_key", "base_url", "demo", "demo_token_delay_ms", "connect_timeout_seconds", "first_token_timeout_seconds", "idle_timeout_seconds", "max_stream_seconds", "max_retries", "retry_base_delay_ms", "allow_extra_body"],
        ["limits"] = ["max_connections", "streams_per_connection", "max_streams", "max_message_bytes", "max_tokens", "idle_timeout_seconds", "ping_interval_seconds", "send_queue_frames", "pending_message_bytes", "message_timeout_seconds", "handshake_timeout_seconds", "max_output_tokens"],
        ["redis"] = ["url"],
        ["resume"] = ["hold_seconds", "keep_seconds", "max_log_bytes", "max_total_bytes", "max_log_frames", "on_store_error"],
        ["text"] = ["segment", "min_chars"],
        ["tts"] = ["first_min_chars", "min_chars", "max_chars", "code_placeholder"],
    };

    private readonly CliOptions _cli;
    private readonly IReadOnlyDictionary<string, string> _env;
    private IConfiguration? _ini;
    private string _iniName = "config.ini";
    private string _workingDirectory = ".";

    private SettingsLoader(CliOptions cli, IReadOnlyDictionary<string, string> env)
    {
        _cli = cli;
        _env = env;
    }

    /// <summary>Reads the process environment into a dictionary.</summary>
    public static IReadOnlyDictionary<string, string> ProcessEnvironment()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            env[(string)e.Key] = (string?)e.Value ?? string.Empty;
        }

        return env;
    }

    /// <summary>Builds the settings, or throws <see cref="ConfigException"/> naming the bad value.</summary>
    public static DaemonSettings Load(CliOptions cli, IReadOnlyDictionary<string, string> env, string workingDirectory)
    {
        var loader = new SettingsLoader(cli, env);
        loader.LoadIni(workingDirectory);
        return loader.Build();
    }

    private void LoadIni(string workingDirectory)
    {
        _workingDirectory = workingDirectory;
        var path = _cli.Config ?? Env("GPTWS_CONFIG");
        var required = path is not null;
        // Name the source that gave the path: a stale GPTWS_CONFIG in a unit file blamed on a --config nobody passed misleads.
        var source = _cli.Config is not null ? "--config" : "GPTWS_CONFIG";
        path ??= "config.ini";
        var full = Path.GetFullPath(path, workingDirectory);
        _iniName = path;
        if (!File.Exists(full))
        {
            if (required)
            {
                throw new ConfigException($"{source}: file not found: {path}");
            }

            return;
        }

        try
        {
            _ini = new ConfigurationBuilder().AddIniFile(full, optional: false, reloadOnChange: false).Build();
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new ConfigException($"{path}: cannot read: {e.Message}", e);
        }

        foreach (var section in _ini.GetChildren())
        {
            if (section.Key.Equals("models", StringComparison.OrdinalIgnoreCase) || section.Key.Equals("routes", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var keys = section.Key.StartsWith("model.", StringComparison.OrdinalIgnoreCase) ? ProviderConfig.ModelSectionKeys
                : ProviderConfig.Owns(section.Key) ? ProviderConfig.SectionKeys
                : section.Key.Equals("quota", StringComparison.OrdinalIgnoreCase) ? [.. QuotaConfig.Keys, "on_store_error"]
                : QuotaConfig.Owns(section.Key) ? QuotaConfig.Keys : null;
            if (keys is null && !KnownIniKeys.TryGetValue(section.Key, out keys))
            {
                throw new ConfigException($"{path}: unknown section [{section.Key}]");
            }

            foreach (var key in section.GetChildren())
            {
                if (Array.FindIndex(keys, k => k.Equals(key.Key, StringComparison.OrdinalIgnoreCase)) < 0)
                {
                    throw new ConfigException($"{path}: unknown key {section.Key}.{key.Key}");
                }
            }
        }
    }

    private DaemonSettings Build()
    {
        var defaults = new DaemonSettings();
        var apiKey = Pick(_cli.ApiKey, "OPENAI_API_KEY", "openai:api_key");
        var apiKeyValue = string.IsNullOrWhiteSpace(apiKey.Value) ? null : apiKey.Value.Trim();
        var providerConfig = _ini is null ? null : new ProviderConfig(_ini, _iniName, Env);
        var literalKeys = new List<string>();
        var providers = providerConfig?.ReadProviders(apiKeyValue is not null, out literalKeys) ?? [];
        var demo = _cli.Demo || ParseBool(Pick(null, null, "openai:demo"), false) || (apiKeyValue is null && providers.Count == 0);
        var providerNames = (apiKeyValue is null ? providers.Select(p => p.Name) : providers.Select(p => p.Name).Prepend("openai")).ToList();
        var routes = providerConfig?.ReadRoutes(providerNames) ?? [];

        var tokens = _cli.AccessTokens?.ToList() is { Count: > 0 } flagTokens
            ? flagTokens
            : SplitList(Pick(null, "GPTWS_ACCESS_TOKENS", "server:access_tokens").Value);
        NamedToken.FromList(tokens, "access token");
        var tokensFile = Pick(null, null, "server:access_tokens_file").Value is { Length: > 0 } file ? Path.GetFullPath(file, _workingDirectory) : null;
        if (tokensFile is not null)
        {
            if (tokens.Count > 0)
            {
                throw new ConfigException("server.access_tokens_file: give the tokens in the file or in access_tokens (--access-token, GPTWS_ACCESS_TOKENS), not both");
            }

            NamedToken.FromFile(tokensFile);
        }

        var adminTokens = SplitList(Pick(null, null, "server:admin_tokens").Value);
        if (!adminTokens.All(NamedToken.IsValidToken))
        {
            throw new ConfigException("server.admin_tokens: each must be at least 8 characters with no white space");
        }

        var proxies = SplitList(Pick(null, null, "server:trusted_proxies").Value);
        foreach (var p in proxies)
        {
            try
            {
                Server.ClientIdentity.Networks([p]);
            }
            catch (FormatException e)
            {
                throw new ConfigException($"server.trusted_proxies: not an address or network: {p}", e);
            }
        }

        var redis = Pick(null, "GPTWS_REDIS_URL", "redis:url").Value;

        var baseUrl = Pick(_cli.BaseUrl, "OPENAI_BASE_URL", "openai:base_url");
        var baseUrlValue = (baseUrl.Value ?? defaults.BaseUrl).TrimEnd('/');
        if (!Uri.TryCreate(baseUrlValue, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ConfigException($"{baseUrl.Source}: not an http(s) URL: {baseUrl.Value}");
        }

        var host = Pick(_cli.Host, "GPTWS_HOST", "server:host");
        var hostValue = (host.Value ?? defaults.Host).Trim();
        if (hostValue.Length == 0 || hostValue.Any(c => char.IsWhiteSpace(c) || c == '/'))
        {
            throw new ConfigException($"{host.Source}: not a host name or address: {host.Value}");
        }

        var logLevel = Pick(_cli.LogLevel, "GPTWS_LOG_LEVEL", "server:log_level");
        var logLevelValue = logLevel.Value ?? defaults.LogLevel;
        if (!IsLogLevel(logLevelValue))
        {
            throw new ConfigException($"{logLevel.Source}: unknown log level '{logLevelValue}' (Trace, Debug, Info, Warn, Error, Fatal, Off)");
        }

        var engine = Pick(_cli.Engine, "GPTWS_ENGINE", "server:engine");
        var engineValue = (engine.Value ?? "httplistener").Trim().ToLowerInvariant() switch
        {
            "httplistener" => EngineKind.HttpListener,
            "kestrel" => EngineKind.Kestrel,
            _ => throw new ConfigException($"{engine.Source}: must be httplistener or kestrel, not '{engine.Value}'"),
        };

        var segment = Pick(null, null, "text:segment");
        var segmentValue = (segment.Value ?? "clause").Trim().ToLowerInvariant() switch
        {
            "clause" => SegmentMode.Clause,
            "sentence" => SegmentMode.Sentence,
            "tts" => SegmentMode.Tts,
            _ => throw new ConfigException($"{segment.Source}: must be clause, sentence or tts, not '{segment.Value}'"),
        };

        return new DaemonSettings
        {
            Host = hostValue,
            Engine = engineValue,
            Port = ParseInt(Pick(_cli.Port, "GPTWS_PORT", "server:port"), defaults.Port, 1, 65535),
            AccessTokens = tokens,
            AllowedOrigins = SplitList(Pick(null, null, "server:allowed_origins").Value).Select(o => o.TrimEnd('/')).ToList(),
            ShutdownGrace = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "server:shutdown_grace_seconds"), 10, 0, 3600)),
            LogLevel = logLevelValue,
            ApiKey = apiKeyValue,
            BaseUrl = baseUrlValue,
            Demo = demo,
            DemoTokenDelay = TimeSpan.FromMilliseconds(ParseInt(Pick(null, null, "openai:demo_token_delay_ms"), 40, 0, 10000)),
            ConnectTimeout = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "openai:connect_timeout_seconds"), 10, 1, 600)),
            FirstTokenTimeout = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "openai:first_token_timeout_seconds"), 60, 1, 3600)),
            UpstreamIdleTimeout = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "openai:idle_timeout_seconds"), 30, 1, 3600)),
            MaxStreamDuration = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "openai:max_stream_seconds"), 600, 1, 86400)),
            MaxRetries = ParseInt(Pick(null, null, "openai:max_retries"), 2, 0, 10),
            RetryBaseDelay = TimeSpan.FromMilliseconds(ParseInt(Pick(null, null, "openai:retry_base_delay_ms"), 500, 0, 60000)),
            MaxConnections = ParseInt(Pick(null, null, "limits:max_connections"), defaults.MaxConnections, 1, 1_000_000),
            StreamsPerConnection = ParseInt(Pick(null, null, "limits:streams_per_connection"), defaults.StreamsPerConnection, 1, 10_000),
            MaxStreams = ParseInt(Pick(null, null, "limits:max_streams"), defaults.MaxStreams, 1, 1_000_000),
            MaxMessageBytes = ParseInt(Pick(null, null, "limits:max_message_bytes"), defaults.MaxMessageBytes, 1024, 64 * 1024 * 1024),
            MaxTokens = ParseInt(Pick(null, null, "limits:max_tokens"), defaults.MaxTokens, 1, 1_000_000),
            ConnectionIdleTimeout = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "limits:idle_timeout_seconds"), 300, 1, 86400)),
            PingInterval = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "limits:ping_interval_seconds"), 30, 0, 3600)),
            SendQueueFrames = ParseInt(Pick(null, null, "limits:send_queue_frames"), defaults.SendQueueFrames, 16, 1_000_000),
            PendingMessageBytes = ParseInt(Pick(null, null, "limits:pending_message_bytes"), (int)defaults.PendingMessageBytes, 64 * 1024, int.MaxValue),
            MessageTimeout = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "limits:message_timeout_seconds"), 30, 1, 3600)),
            HandshakeTimeout = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "limits:handshake_timeout_seconds"), 10, 1, 600)),
            Segment = segmentValue,
            Tts = new TtsLimits(
                ParseInt(Pick(null, null, "tts:first_min_chars"), 6, 1, 1000),
                ParseInt(Pick(null, null, "tts:min_chars"), 20, 0, 10_000),
                ParseInt(Pick(null, null, "tts:max_chars"), 150, 10, 4096),
                Pick(null, null, "tts:code_placeholder").Value ?? string.Empty),
            MinChars = ParseInt(Pick(null, null, "text:min_chars"), 0, 0, 10_000),
            ModelAliases = LoadAliases(),
            ExtraProviders = providers,
            AccessTokensFile = tokensFile,
            AdminTokens = adminTokens,
            TrustedProxies = proxies,
            Quota = QuotaConfig.Read(_ini, _iniName),
            MaxOutputTokens = Pick(null, null, "limits:max_output_tokens").Value is { } cap ? ParseInt((cap, $"{_iniName}: limits.max_output_tokens"), 0, 1, 1_000_000) : null,
            AllowedModels = SplitList(_ini?["models:allow"]),
            RedisUrl = string.IsNullOrWhiteSpace(redis) ? null : RedisAddress(redis.Trim()),
            Resume = new Streams.ResumeSettings
            {
                Hold = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "resume:hold_seconds"), 30, 1, 86400)),
                Keep = TimeSpan.FromSeconds(ParseInt(Pick(null, null, "resume:keep_seconds"), 60, 1, 86400)),
                MaxLogBytes = ParseInt(Pick(null, null, "resume:max_log_bytes"), 1 << 20, 4096, int.MaxValue),
                MaxTotalBytes = ParseInt(Pick(null, null, "resume:max_total_bytes"), 256 << 20, 4096, int.MaxValue),
                MaxLogFrames = ParseInt(Pick(null, null, "resume:max_log_frames"), 20_000, 16, 10_000_000),
                MemoryOnStoreError = Pick(null, null, "resume:on_store_error").Value?.Trim().ToLowerInvariant() switch
                {
                    null or "fail" => false,
                    "memory" => true,
                    var other => throw new ConfigException($"{_iniName}: resume.on_store_error: must be fail or memory, not '{other}'"),
                },
            },
            AllowExtraBody = ParseBool(Pick(null, null, "openai:allow_extra_body"), false),
            ModelRules = providerConfig?.ReadModelRules() ?? [.. ModelRule.BuiltIn],
            Routes = routes,
            LiteralKeyProviders = literalKeys.Distinct(StringComparer.Ordinal).ToList(),
        };
    }

    private Dictionary<string, string> LoadAliases()
    {
        var aliases = new Dictionary<string, string>(DaemonSettings.DefaultModelAliases, StringComparer.Ordinal);
        if (_ini is not null)
        {
            foreach (var entry in _ini.GetSection("models").GetChildren().Where(e => !e.Key.Equals("allow", StringComparison.OrdinalIgnoreCase)))
            {
                if (string.IsNullOrWhiteSpace(entry.Value))
                {
                    throw new ConfigException($"{_iniName}: models.{entry.Key} needs a model name");
                }

                aliases[entry.Key] = entry.Value.Trim();
            }
        }

        return aliases;
    }

    private (string? Value, string Source) Pick(string? flag, string? envName, string iniKey)
    {
        var flagName = "--" + iniKey[(iniKey.IndexOf(':', StringComparison.Ordinal) + 1)..].Replace('_', '-');
        if (flag is not null)
        {
            return (flag, flagName);
        }

        if (envName is not null && Env(envName) is { } envValue)
        {
            return (envValue, envName);
        }

        var ini = _ini?[iniKey];
        return ini is null ? (null, flagName) : (ini.Trim(), $"{_iniName}: {iniKey.Replace(':', '.')}");
    }

    /// <summary><c>redis://[:password@]host[:port][/db]</c> as StackExchange.Redis's configuration string.</summary>
    internal static string RedisAddress(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("redis" or "rediss") || uri.Host.Length == 0)
        {
            throw new ConfigException($"redis.url: must be redis://host:port (or rediss://), not '{url}'");
        }

        var config = $"{uri.Host}:{(uri.Port > 0 ? uri.Port : 6379)}";
        if (uri.UserInfo.Length > 0)
        {
            config += ",password=" + Uri.UnescapeDataString(uri.UserInfo[(uri.UserInfo.IndexOf(':', StringComparison.Ordinal) + 1)..]);
        }

        if (uri.AbsolutePath.Trim('/') is { Length: > 0 } db)
        {
            config += ",defaultDatabase=" + db;
        }

        return uri.Scheme == "rediss" ? config + ",ssl=true" : config;
    }

    private string? Env(string name) => _env.TryGetValue(name, out var v) && v.Length > 0 ? v : null;

    /// <summary>An integer in [min, max], the fallback when unset, else a one-line error naming the source.</summary>
    internal static int ParseInt((string? Value, string Source) item, int fallback, int min, int max)
    {
        if (item.Value is null)
        {
            return fallback;
        }

        if (!int.TryParse(item.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            throw new ConfigException($"{item.Source}: must be an integer from {min} to {max}, not '{item.Value}'");
        }

        return n;
    }

    private static bool ParseBool((string? Value, string Source) item, bool fallback) => item.Value?.ToLowerInvariant() switch
    {
        null => fallback,
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" or "" => false,
        _ => throw new ConfigException($"{item.Source}: must be true or false, not '{item.Value}'"),
    };

    private static List<string> SplitList(string? value) =>
        value is null ? [] : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static bool IsLogLevel(string name) =>
        name.ToLowerInvariant() is "trace" or "debug" or "info" or "warn" or "error" or "fatal" or "off";
}
