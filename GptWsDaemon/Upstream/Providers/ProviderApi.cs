namespace GptWsDaemon.Upstream.Providers;

/// <summary>Which of OpenAI's APIs a provider of kind openai or azure is spoken to in (ini <c>api</c>).</summary>
public enum ProviderApi
{
    /// <summary>POST …/chat/completions (and /completions for prompt-only models): chunks and [DONE].</summary>
    Chat,

    /// <summary>POST …/responses: typed events from response.created to response.completed.</summary>
    Responses,
}
