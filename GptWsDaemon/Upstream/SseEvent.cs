namespace GptWsDaemon.Upstream;

/// <summary>One server-sent event. <see cref="Data"/> points into the reader's pooled buffer: valid only until the next event is read.</summary>
/// <param name="EventType">The <c>event:</c> field, "message" when absent.</param>
/// <param name="Data">The <c>data:</c> lines joined with LF, as UTF-8.</param>
/// <param name="Id">The last event id seen on the stream, or null.</param>
public readonly record struct SseEvent(string EventType, ReadOnlyMemory<byte> Data, string? Id);
