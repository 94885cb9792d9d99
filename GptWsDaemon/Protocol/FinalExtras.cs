namespace GptWsDaemon.Protocol;

/// <summary>What a final frame may carry beyond the finish and usage (protocol.md §5.2).</summary>
/// <param name="Refusal">True: the model refused; <c>data.refusal: true</c>.</param>
/// <param name="ToolCalls">The assembled tool calls as a JSON array (UTF-8), written as <c>data.tool_calls</c>; null for none.</param>
public readonly record struct FinalExtras(bool Refusal, byte[]? ToolCalls);
