namespace GptWsDaemon.Protocol;

/// <summary>Token counts reported by the upstream (stream_options.include_usage).</summary>
/// <param name="PromptTokens">Tokens of the prompt.</param>
/// <param name="CompletionTokens">Tokens of the answer.</param>
public readonly record struct UsageInfo(int PromptTokens, int CompletionTokens)
{
    /// <summary><c>completion_tokens_details.reasoning_tokens</c> when the provider sent it.</summary>
    public int? ReasoningTokens { get; init; }

    /// <summary>True when the daemon counted the tokens itself (the provider sent no usage): <c>usage.estimated</c>.</summary>
    public bool Estimated { get; init; }

    /// <summary><c>prompt_tokens_details.cached_tokens</c> when the provider sent it.</summary>
    public int? CachedTokens { get; init; }
}
