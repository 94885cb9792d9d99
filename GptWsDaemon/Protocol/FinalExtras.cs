namespace GptWsDaemon.Protocol;

/// <summary>What a final or error frame may carry beyond the finish and usage (protocol.md §5.2, §6).</summary>
/// <param name="Refusal">True: the model refused; <c>data.refusal: true</c>.</param>
/// <param name="ToolCalls">The assembled tool calls as a JSON array (UTF-8), written as <c>data.tool_calls</c>; null for none.</param>
public readonly record struct FinalExtras(bool Refusal, byte[]? ToolCalls)
{
    /// <summary>An error frame's <c>data.retry_after</c> in seconds (1009), or null.</summary>
    public int? RetryAfter { get; init; }

    /// <summary>A resumable stream's reader that a later resume replaced: <c>data.detached: true</c> (protocol.md §4.5).</summary>
    public bool Detached { get; init; }
}
