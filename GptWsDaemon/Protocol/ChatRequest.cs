using GptWsDaemon.Text;

namespace GptWsDaemon.Protocol;

/// <summary>A validated request frame, ready to be sent upstream.</summary>
public sealed record ChatRequest
{
    /// <summary>The client's seq.</summary>
    public required RequestSeq Seq { get; init; }

    /// <summary>The model the client asked for.</summary>
    public required string Model { get; init; }

    /// <summary>The model sent upstream, after the ini aliases.</summary>
    public required string UpstreamModel { get; init; }

    /// <summary>The chat history, <c>data.query</c> last as a user message when it was given (protocol.md §4).</summary>
    public IReadOnlyList<ChatMessage> Messages { get; init; } = [];

    /// <summary><c>data.query</c> as given, empty when absent: a dialect for prompt-only models sends it alone.</summary>
    public string Query { get; init; } = string.Empty;

    /// <summary>True: one frame per upstream delta; false: one frame per sentence.</summary>
    public bool OriginStream { get; init; } = true;

    /// <summary>Granularity when <see cref="OriginStream"/> is false.</summary>
    public SegmentMode Segment { get; init; }

    /// <summary>Whether Markdown that is not meant to be spoken is removed before relaying (protocol.md §5.5).</summary>
    public bool StripMarkdown { get; init; }

    /// <summary>True: send only model, messages/prompt and stream; false: send every sampling parameter.</summary>
    public bool OpenAiParameter { get; init; } = true;

    /// <summary>The sampling parameters.</summary>
    public SamplingParameters Parameters { get; init; } = new();

    /// <summary><c>reasoning_effort</c> (none, minimal, low, medium, high, xhigh), or null when not set.</summary>
    public string? ReasoningEffort { get; init; }

    /// <summary>Whether the model's reasoning is relayed as <c>data.reasoning</c> frames (protocol.md §5.1).</summary>
    public bool RelayReasoning { get; init; }

    /// <summary>Fields forwarded as the client wrote them (protocol.md §4.1 "Pass-through"): name → raw JSON.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> PassThrough { get; init; } = [];

    /// <summary><c>extra_body</c>'s members (name → raw JSON), merged into the upstream body; empty when not given.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ExtraBody { get; init; } = [];

    /// <summary>The output cap every upstream request carries (limits.max_output_tokens, the client's quota), or null.</summary>
    public int? OutputCap { get; init; }

    /// <summary><c>data.resumable</c>: the stream outlives its connection and can be resumed (protocol.md §4.5).</summary>
    public bool Resumable { get; init; }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of the frame's arrival, for consume_time.</summary>
    public long ReceivedAt { get; init; }

    /// <summary>Characters of text the request carries (messages and query), counted up to a little past <paramref name="cap"/>.</summary>
    public int TextChars(int cap)
    {
        var chars = Query.Length;
        for (var i = 0; i < Messages.Count && chars <= cap; i++)
        {
            chars += Messages[i].Content.Length;
        }

        return chars;
    }

    /// <summary>
    /// This request without its messages and prompt: what a stream keeps once the upstream request is written, so that a
    /// long conversation is not held (and copied by the garbage collector) for as long as its answer streams.
    /// </summary>
    public ChatRequest WithoutText() => Messages.Count == 0 && Query.Length == 0 ? this : this with { Messages = [], Query = string.Empty };
}
