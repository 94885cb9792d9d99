namespace GptWsDaemon.Upstream.Dialects;

/// <summary>What one SSE event was, as its dialect read it.</summary>
public enum EventVerdict
{
    /// <summary>Nothing for the client (a keep-alive, a ping, a block start).</summary>
    Skip,

    /// <summary>A chunk: text, a finish reason, usage — any of them.</summary>
    Chunk,

    /// <summary>The stream's own end ([DONE], message_stop): nothing more will come.</summary>
    End,

    /// <summary>An <c>event: error</c> whose data the engine reports as the upstream's error.</summary>
    Error,
}
