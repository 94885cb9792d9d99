using System.Collections.Frozen;
using System.Net.Http.Headers;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Providers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// Azure OpenAI: OpenAI's body and events, the key in an <c>api-key</c> header, and one of Azure's two URL styles —
/// with an api-version, <c>{base}/openai/deployments/{deployment}/chat/completions?api-version=…</c>; without, the v1
/// API at <c>{base}/openai/v1/chat/completions</c> with the deployment as the body's model.
/// </summary>
public sealed class AzureDialect : OpenAiDialect
{
    private readonly string _baseUrl;
    private readonly string? _apiVersion;
    private readonly FrozenDictionary<string, Uri> _deployments; // the configured deployments' URLs, parsed once

    /// <summary>Creates the dialect for <paramref name="settings"/>.</summary>
    public AzureDialect(ProviderSettings settings, IReadOnlyList<ModelRule>? rules = null)
        : base(settings.BaseUrl + "/openai/v1", rules)
    {
        _baseUrl = settings.BaseUrl;
        _apiVersion = settings.ApiVersion;
        _deployments = _apiVersion is null
            ? FrozenDictionary<string, Uri>.Empty
            : settings.Models.Values.Distinct(StringComparer.Ordinal).ToFrozenDictionary(d => d, d => DeploymentUri(d, false), StringComparer.Ordinal);
    }

    /// <inheritdoc/>
    public override Uri UriFor(ChatRequest request, string model) =>
        _apiVersion is null ? base.UriFor(request, model)
        : !IsCompletions(request) && _deployments.TryGetValue(model, out var uri) ? uri
        : DeploymentUri(model, IsCompletions(request)); // a deployment the ini does not list: the model asked names it

    /// <inheritdoc/>
    public override void AddHeaders(HttpRequestHeaders headers, ApiKey key) => headers.TryAddWithoutValidation("api-key", key.Value);

    private Uri DeploymentUri(string deployment, bool completions) =>
        new($"{_baseUrl}/openai/deployments/{Uri.EscapeDataString(deployment)}/{(completions ? "completions" : "chat/completions")}?api-version={Uri.EscapeDataString(_apiVersion!)}");
}
