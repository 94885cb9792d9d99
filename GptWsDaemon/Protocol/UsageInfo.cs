namespace GptWsDaemon.Protocol;

/// <summary>Token counts reported by the upstream (stream_options.include_usage).</summary>
/// <param name="PromptTokens">Tokens of the prompt.</param>
/// <param name="CompletionTokens">Tokens of the answer.</param>
public readonly record struct UsageInfo(int PromptTokens, int CompletionTokens);
