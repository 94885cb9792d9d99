namespace GptWsDaemon.Upstream.Providers;

/// <summary>The wire format a provider speaks (ini <c>kind</c>, protocol.md §2 "Providers").</summary>
public enum ProviderKind
{
    /// <summary>OpenAI's chat/completions API, and every provider compatible with it (DeepSeek, Qwen, vLLM, …).</summary>
    OpenAi,

    /// <summary>Azure OpenAI: the OpenAI body, an <c>api-key</c> header and Azure's URLs.</summary>
    Azure,

    /// <summary>Anthropic's Messages API.</summary>
    Anthropic,
}
