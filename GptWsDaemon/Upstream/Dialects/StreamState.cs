using GptWsDaemon.Buffers;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// What a dialect keeps between the events of one stream, one per stream: the pooled buffers its text is unescaped
/// into (content and reasoning apart: one event may carry both), the tool calls assembled so far, and counts announced
/// before the answer. The engine returns the buffers when the stream ends.
/// </summary>
public sealed class StreamState
{
    private char[]? _content;
    private char[]? _reasoning;

    /// <summary>The buffer of a chunk's content (and refusal) text: valid until the next event is read.</summary>
    public ref char[]? Content => ref _content;

    /// <summary>The buffer of a chunk's reasoning text: valid until the next event is read.</summary>
    public ref char[]? Reasoning => ref _reasoning;

    /// <summary>Prompt tokens announced before the answer (Anthropic's message_start).</summary>
    public int PromptTokens { get; set; }

    /// <summary>The tool calls streamed so far, or null while there are none.</summary>
    public ToolCallAssembler? ToolCalls { get; set; }

    /// <summary>Gives the buffers back to the pool.</summary>
    public void Return()
    {
        PooledBuffer.Return(ref _content);
        PooledBuffer.Return(ref _reasoning);
    }
}
