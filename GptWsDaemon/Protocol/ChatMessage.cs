namespace GptWsDaemon.Protocol;

/// <summary>One entry of the chat history.</summary>
/// <param name="Role">system, user, assistant or developer.</param>
/// <param name="Content">The text.</param>
public sealed record ChatMessage(string Role, string Content);
