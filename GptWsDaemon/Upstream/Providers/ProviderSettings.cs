namespace GptWsDaemon.Upstream.Providers;

/// <summary>One provider as configured (ini <c>[provider.NAME]</c>, or <c>[openai]</c> and its flags for the one named <c>openai</c>).</summary>
public sealed record ProviderSettings
{
    /// <summary>The default cooldown of a key the provider refused (401/403).</summary>
    public static readonly TimeSpan DefaultKeyCooldown = TimeSpan.FromSeconds(600);

    /// <summary>The name routes, logs, frames and metrics use.</summary>
    public required string Name { get; init; }

    /// <summary>The wire format.</summary>
    public ProviderKind Kind { get; init; } = ProviderKind.OpenAi;

    /// <summary>Kind openai or azure: the chat/completions API or the Responses API (ini <c>api</c>).</summary>
    public ProviderApi Api { get; init; } = ProviderApi.Chat;

    /// <summary>The base URL, without a trailing slash.</summary>
    public required string BaseUrl { get; init; }

    /// <summary>Azure: the api-version of the deployments URL; null selects Azure's v1 API.</summary>
    public string? ApiVersion { get; init; }

    /// <summary>Anthropic: the <c>anthropic-version</c> header.</summary>
    public string AnthropicVersion { get; init; } = "2023-06-01";

    /// <summary>The keys, in the order given; at least one.</summary>
    public required IReadOnlyList<string> ApiKeys { get; init; }

    /// <summary>Model asked (after the daemon's <c>[models]</c> aliases) → model or Azure deployment sent.</summary>
    public IReadOnlyDictionary<string, string> Models { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>How long a refused key (401/403) is left out.</summary>
    public TimeSpan KeyCooldown { get; init; } = DefaultKeyCooldown;

    /// <summary>The model to send for <paramref name="model"/>.</summary>
    public string ModelFor(string model) => Models.TryGetValue(model, out var sent) ? sent : model;
}
