namespace GptWsDaemon.Protocol;

/// <summary>One entry of the chat history (protocol.md §4.1 "Messages").</summary>
/// <param name="Role">system, developer, user, assistant or tool.</param>
/// <param name="Content">The text: the content string, or the text parts of an array joined (for logs, the demo, prompt-only models).</param>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The content as the client sent it when it was an array of parts (raw JSON, forwarded as given); null for a string.</summary>
    public string? PartsJson { get; init; }

    /// <summary>An assistant message's <c>tool_calls</c> (raw JSON array), or null.</summary>
    public string? ToolCallsJson { get; init; }

    /// <summary>A tool message's <c>tool_call_id</c>, or null.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>The optional <c>name</c> of the participant, or null.</summary>
    public string? Name { get; init; }
}
