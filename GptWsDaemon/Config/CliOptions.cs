using CommandLine;

namespace GptWsDaemon.Config;

/// <summary>Command-line flags (protocol.md §2). Unset flags stay null so environment and ini can fill them.</summary>
public sealed class CliOptions
{
    /// <summary>Port to listen on.</summary>
    [Option('p', "port", HelpText = "Port to listen on (env GPTWS_PORT, ini server.port; default 8808).")]
    public string? Port { get; set; }

    /// <summary>Address to bind.</summary>
    [Option("host", HelpText = "Address to bind: 127.0.0.1, 0.0.0.0, a host name (env GPTWS_HOST, ini server.host; default 127.0.0.1).")]
    public string? Host { get; set; }

    /// <summary>Provider API key.</summary>
    [Option('k', "api-key", HelpText = "OpenAI API key (env OPENAI_API_KEY, ini openai.api_key). Without one the demo upstream runs.")]
    public string? ApiKey { get; set; }

    /// <summary>Provider base URL.</summary>
    [Option("base-url", HelpText = "OpenAI-compatible base URL (env OPENAI_BASE_URL, ini openai.base_url; default https://api.openai.com/v1).")]
    public string? BaseUrl { get; set; }

    /// <summary>Ini file path.</summary>
    [Option('c', "config", HelpText = "Ini file (env GPTWS_CONFIG; default ./config.ini if present).")]
    public string? Config { get; set; }

    /// <summary>Client access tokens.</summary>
    [Option("access-token", HelpText = "Client access token; repeatable (env GPTWS_ACCESS_TOKENS comma list, ini server.access_tokens).")]
    public IEnumerable<string>? AccessTokens { get; set; }

    /// <summary>Force the offline demo upstream.</summary>
    [Option("demo", HelpText = "Serve the embedded offline demo model (ini openai.demo; on when no API key is set).")]
    public bool Demo { get; set; }

    /// <summary>The HTTP engine.</summary>
    [Option("engine", HelpText = "HTTP engine: httplistener (default) or kestrel, hardened for exposed ports (env GPTWS_ENGINE, ini server.engine).")]
    public string? Engine { get; set; }

    /// <summary>Minimum log level.</summary>
    [Option("log-level", HelpText = "Trace, Debug, Info, Warn, Error (env GPTWS_LOG_LEVEL, ini server.log_level; default Info).")]
    public string? LogLevel { get; set; }
}
