namespace GptWsDaemon.Upstream.Dialects;

/// <summary>What a dialect remembers between the events of one stream; a struct on the stream's frame, no allocation.</summary>
public struct DialectState
{
    /// <summary>Prompt tokens announced before the answer (Anthropic's message_start).</summary>
    public int PromptTokens { get; set; }
}
