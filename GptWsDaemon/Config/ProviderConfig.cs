using System.Globalization;
using GptWsDaemon.Upstream.Providers;
using Microsoft.Extensions.Configuration;

namespace GptWsDaemon.Config;

/// <summary>
/// Reads <c>[provider.NAME]</c> sections and <c>[routes]</c> (protocol.md §2 "Providers"). Keys come from
/// <c>env:NAME</c>, <c>file:/path</c> (its first line) or, discouraged, the ini itself; a variable or file that is
/// missing is a startup error naming it. In these sections a <c>;</c> or <c>#</c> after white space starts a comment.
/// </summary>
internal sealed class ProviderConfig
{
    /// <summary>The keys a <c>[provider.NAME]</c> section may have.</summary>
    public static readonly string[] SectionKeys = ["kind", "api", "base_url", "api_version", "anthropic_version", "api_keys", "models", "key_cooldown_seconds"];

    /// <summary>The keys a <c>[model.PATTERN]</c> section may have.</summary>
    public static readonly string[] ModelSectionKeys = ["max_tokens_param", "sampling"];

    private readonly IConfiguration _ini;
    private readonly string _iniName;
    private readonly Func<string, string?> _env;

    public ProviderConfig(IConfiguration ini, string iniName, Func<string, string?> env)
    {
        _ini = ini;
        _iniName = iniName;
        _env = env;
    }

    /// <summary>True for a section this class reads.</summary>
    public static bool Owns(string section) =>
        section.StartsWith("provider.", StringComparison.OrdinalIgnoreCase) || section.Equals("routes", StringComparison.OrdinalIgnoreCase)
        || section.StartsWith("model.", StringComparison.OrdinalIgnoreCase);

    /// <summary>The built-in model rules with <c>[model.PATTERN]</c> sections on top (one for a built-in pattern replaces it).</summary>
    public List<ModelRule> ReadModelRules()
    {
        var rules = ModelRule.BuiltIn.ToDictionary(r => r.Pattern, StringComparer.Ordinal);
        foreach (var section in _ini.GetChildren().Where(s => s.Key.StartsWith("model.", StringComparison.OrdinalIgnoreCase)))
        {
            var pattern = section.Key["model.".Length..];
            var where = $"{_iniName}: [{section.Key}]";
            if (pattern.Length == 0)
            {
                throw new ConfigException($"{where}: needs a model pattern, [model.gpt-5*] say");
            }

            var inherited = ModelRule.For([.. rules.Values], pattern);
            var param = Value(section, "max_tokens_param") ?? inherited.MaxTokensParam;
            if (param is not ("max_tokens" or "max_completion_tokens"))
            {
                throw new ConfigException($"{where} max_tokens_param: must be max_tokens or max_completion_tokens, not '{param}'");
            }

            var sampling = Value(section, "sampling")?.ToLowerInvariant() switch
            {
                null => inherited.ClientSamplingOnly,
                "all" => false,
                "client_only" => true,
                var other => throw new ConfigException($"{where} sampling: must be all or client_only, not '{other}'"),
            };
            rules[pattern] = new ModelRule(pattern, param, sampling);
        }

        return [.. rules.Values];
    }

    /// <summary>The providers of the ini, in the ini's order of names; <paramref name="legacyOpenAi"/>: the <c>openai</c> one is defined by [openai] or a flag.</summary>
    public List<ProviderSettings> ReadProviders(bool legacyOpenAi, out List<string> literalKeys)
    {
        literalKeys = [];
        var providers = new List<ProviderSettings>();
        foreach (var section in _ini.GetChildren().Where(s => s.Key.StartsWith("provider.", StringComparison.OrdinalIgnoreCase)))
        {
            var name = section.Key["provider.".Length..];
            var where = $"{_iniName}: [{section.Key}]";
            if (name.Length is 0 or > 40 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_'))
            {
                throw new ConfigException($"{where}: a provider name is 1 to 40 of a-z, 0-9, - and _");
            }

            if (name == "openai" && legacyOpenAi)
            {
                throw new ConfigException($"{where}: provider openai is already defined by [openai] api_key, --api-key or OPENAI_API_KEY; use one of the two");
            }

            var kind = Value(section, "kind")?.ToLowerInvariant() switch
            {
                null or "openai" => ProviderKind.OpenAi,
                "azure" => ProviderKind.Azure,
                "anthropic" => ProviderKind.Anthropic,
                var other => throw new ConfigException($"{where} kind: must be openai, azure or anthropic, not '{other}'"),
            };
            var baseUrl = (Value(section, "base_url") ?? kind switch
            {
                ProviderKind.OpenAi => "https://api.openai.com/v1",
                ProviderKind.Anthropic => "https://api.anthropic.com",
                _ => throw new ConfigException($"{where}: kind azure needs base_url (https://RESOURCE.openai.azure.com)"),
            }).TrimEnd('/');
            if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new ConfigException($"{where} base_url: not an http(s) URL: {baseUrl}");
            }

            var apiVersion = Value(section, "api_version");
            if (apiVersion is not null && kind != ProviderKind.Azure)
            {
                throw new ConfigException($"{where} api_version: only kind azure has one");
            }

            var api = Value(section, "api")?.ToLowerInvariant() switch
            {
                null or "chat" => ProviderApi.Chat,
                "responses" when kind != ProviderKind.Anthropic => ProviderApi.Responses,
                "responses" => throw new ConfigException($"{where} api: responses is OpenAI's and Azure's API, not kind anthropic's"),
                var other => throw new ConfigException($"{where} api: must be chat or responses, not '{other}'"),
            };

            var anthropicVersion = Value(section, "anthropic_version");
            if (anthropicVersion is not null && kind != ProviderKind.Anthropic)
            {
                throw new ConfigException($"{where} anthropic_version: only kind anthropic has one");
            }

            var keys = ReadKeys(section, where, literalKeys);
            providers.Add(new ProviderSettings
            {
                Name = name,
                Kind = kind,
                Api = api,
                BaseUrl = baseUrl,
                ApiVersion = apiVersion,
                AnthropicVersion = anthropicVersion ?? "2023-06-01",
                ApiKeys = keys,
                Models = ReadModels(section, where),
                KeyCooldown = TimeSpan.FromSeconds(SettingsLoader.ParseInt((Value(section, "key_cooldown_seconds"), $"{where} key_cooldown_seconds"), 600, 1, 86400)),
            });
        }

        return providers;
    }

    /// <summary>The [routes]; every provider named must be among <paramref name="providers"/>.</summary>
    public List<RouteRule> ReadRoutes(IReadOnlyCollection<string> providers)
    {
        var routes = new List<RouteRule>();
        foreach (var entry in _ini.GetSection("routes").GetChildren())
        {
            var names = Split(StripComment(entry.Value ?? string.Empty));
            var where = $"{_iniName}: routes.{entry.Key}";
            if (names.Count == 0)
            {
                throw new ConfigException($"{where}: needs one or more provider names");
            }

            foreach (var n in names.Where(n => !providers.Contains(n)))
            {
                throw new ConfigException($"{where}: no provider '{n}' (defined: {(providers.Count == 0 ? "none; set an API key or add [provider.NAME]" : string.Join(", ", providers))})");
            }

            routes.Add(new RouteRule(entry.Key.Trim(), names));
        }

        return routes;
    }

    private List<string> ReadKeys(IConfigurationSection section, string where, List<string> literalKeys)
    {
        var sources = Split(Value(section, "api_keys") ?? string.Empty);
        if (sources.Count == 0)
        {
            throw new ConfigException($"{where} api_keys: needs one or more keys (env:NAME, file:/path)");
        }

        if (sources.Count > KeyPool.MaxKeys)
        {
            throw new ConfigException($"{where} api_keys: at most {KeyPool.MaxKeys} keys per provider");
        }

        var keys = new List<string>();
        foreach (var source in sources)
        {
            string? key;
            if (source.StartsWith("env:", StringComparison.Ordinal))
            {
                key = _env(source[4..]) ?? throw new ConfigException($"{where} api_keys: environment variable {source[4..]} is not set");
            }
            else if (source.StartsWith("file:", StringComparison.Ordinal))
            {
                var path = source[5..];
                try
                {
                    key = File.ReadLines(path).FirstOrDefault() ?? string.Empty;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    throw new ConfigException($"{where} api_keys: cannot read key file {path}: {e.Message}", e);
                }
            }
            else
            {
                key = source;
                literalKeys.Add(section.Key);
            }

            key = key.Trim();
            if (key.Length == 0 || key.Any(char.IsWhiteSpace))
            {
                throw new ConfigException($"{where} api_keys: {(source.StartsWith("env:", StringComparison.Ordinal) || source.StartsWith("file:", StringComparison.Ordinal) ? source : "a literal key")} gives an empty key or one with white space");
            }

            keys.Add(key);
        }

        return keys;
    }

    private static Dictionary<string, string> ReadModels(IConfigurationSection section, string where)
    {
        var models = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in Split(Value(section, "models") ?? string.Empty))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == pair.Length - 1)
            {
                throw new ConfigException($"{where} models: '{pair}' is not asked=sent");
            }

            models[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }

        return models;
    }

    private static string? Value(IConfigurationSection section, string key) =>
        section[key] is { } raw && StripComment(raw) is { Length: > 0 } value ? value : null;

    /// <summary>The value before a <c>;</c> or <c>#</c> that follows white space (an inline comment), trimmed.</summary>
    private static string StripComment(string raw)
    {
        for (var i = 1; i < raw.Length; i++)
        {
            if (raw[i] is ';' or '#' && char.IsWhiteSpace(raw[i - 1]))
            {
                return raw[..i].Trim();
            }
        }

        return raw.Trim();
    }

    private static List<string> Split(string value) =>
        [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
