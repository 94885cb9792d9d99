using GptWsDaemon.Quotas;
using Microsoft.Extensions.Configuration;

namespace GptWsDaemon.Config;

/// <summary>Reads <c>[quota]</c> (every client) and <c>[quota.NAME]</c> (one client) (protocol.md §2.3 "Quotas").</summary>
internal static class QuotaConfig
{
    /// <summary>The keys of a <c>[quota.NAME]</c> section; <c>[quota]</c> also has <c>on_store_error</c>.</summary>
    public static readonly string[] Keys = ["requests_per_minute", "concurrent_streams", "tokens_per_day", "max_output_tokens"];

    /// <summary>Whether this class reads <paramref name="section"/>.</summary>
    public static bool Owns(string section) =>
        section.Equals("quota", StringComparison.OrdinalIgnoreCase) || section.StartsWith("quota.", StringComparison.OrdinalIgnoreCase);

    public static QuotaSettings Read(IConfiguration? ini, string iniName)
    {
        if (ini is null)
        {
            return QuotaSettings.Off;
        }

        var perClient = new Dictionary<string, QuotaLimits>(StringComparer.Ordinal);
        foreach (var section in ini.GetChildren().Where(s => s.Key.StartsWith("quota.", StringComparison.OrdinalIgnoreCase)))
        {
            var name = section.Key["quota.".Length..];
            if (!NamedToken.IsName(name))
            {
                throw new ConfigException($"{iniName}: [{section.Key}]: a client name is 1 to 40 of a-z, 0-9, - and _");
            }

            perClient[name] = Limits(section, $"{iniName}: quota.{name}");
        }

        var defaults = ini.GetSection("quota");
        var onError = defaults["on_store_error"]?.Trim().ToLowerInvariant() switch
        {
            null or "open" => true,
            "closed" => false,
            var other => throw new ConfigException($"{iniName}: quota.on_store_error: must be open or closed, not '{other}'"),
        };
        var settings = new QuotaSettings { Defaults = Limits(defaults, $"{iniName}: quota"), PerClient = perClient, OpenOnStoreError = onError };
        return settings.Any || !onError ? settings : QuotaSettings.Off;
    }

    private static QuotaLimits Limits(IConfigurationSection section, string where) => new()
    {
        RequestsPerMinute = Positive(section, "requests_per_minute", where),
        ConcurrentStreams = Positive(section, "concurrent_streams", where),
        TokensPerDay = Positive(section, "tokens_per_day", where),
        MaxOutputTokens = Positive(section, "max_output_tokens", where),
    };

    private static int? Positive(IConfigurationSection section, string key, string where) =>
        section[key]?.Trim() is { Length: > 0 } value ? SettingsLoader.ParseInt((value, $"{where}.{key}"), 0, 1, int.MaxValue) : null;
}
