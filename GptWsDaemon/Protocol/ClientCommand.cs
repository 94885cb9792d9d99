namespace GptWsDaemon.Protocol;

/// <summary>What a client frame asks for, after parsing.</summary>
public abstract record ClientCommand
{
    /// <summary>Start a stream.</summary>
    public sealed record Chat(ChatRequest Request) : ClientCommand;

    /// <summary>Cancel the stream with this seq.</summary>
    public sealed record Cancel(RequestSeq Seq) : ClientCommand;

    /// <summary>Replay a resumable stream's frames after <paramref name="After"/> under <paramref name="Seq"/>, then follow it (protocol.md §4.5).</summary>
    public sealed record ResumeFrom(RequestSeq Seq, string StreamId, long After, long ReceivedAt) : ClientCommand;

    /// <summary>Answer with a pong frame.</summary>
    public sealed record Ping(RequestSeq? Seq) : ClientCommand;

    /// <summary>The frame was refused: answer with an error frame.</summary>
    public sealed record Invalid(int Code, string Message, RequestSeq? Seq) : ClientCommand;
}
