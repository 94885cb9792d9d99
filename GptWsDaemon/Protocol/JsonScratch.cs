using System.Buffers;
using System.Text.Json;

namespace GptWsDaemon.Protocol;

/// <summary>
/// A <see cref="Utf8JsonWriter"/> over a growable buffer, kept per thread and reused for every document written on it
/// (a frame, a request body): the writer and its buffer are not allocated per document. A document is written and
/// copied out synchronously, so two uses on one thread never overlap.
/// </summary>
public class JsonScratch
{
    /// <summary>A buffer grown past this by one large document is dropped afterwards rather than kept for the thread's life.</summary>
    private const int KeepBytes = 64 * 1024;

    [ThreadStatic]
    private static JsonScratch? t_forThread;

    private ArrayBufferWriter<byte> _buffer = new(512);

    /// <summary>Creates the scratch writer.</summary>
    protected JsonScratch() => Writer = NewWriter(_buffer);

    /// <summary>This thread's scratch writer for documents copied out with <see cref="ToArray"/> (reply frames have their own).</summary>
    public static JsonScratch ForThread => t_forThread ??= new JsonScratch();

    /// <summary>The writer; empty at the start of each document.</summary>
    public Utf8JsonWriter Writer { get; private set; }

    /// <summary>Flushes the writer and copies the document into a new array.</summary>
    public byte[] ToArray() => Flushed().ToArray();

    /// <summary>The written document; valid until <see cref="Reset"/>.</summary>
    protected ReadOnlySpan<byte> Flushed()
    {
        Writer.Flush();
        return _buffer.WrittenSpan;
    }

    /// <summary>Empties the writer and its buffer for the next document; call it in a finally, so that a document that
    /// failed half-way never leaks into the next one.</summary>
    public void Reset()
    {
        if (_buffer.Capacity > KeepBytes)
        {
            _buffer = new ArrayBufferWriter<byte>(512);
            Writer = NewWriter(_buffer);
            return;
        }

        Writer.Reset();
        _buffer.ResetWrittenCount();
    }

    private static Utf8JsonWriter NewWriter(ArrayBufferWriter<byte> buffer) =>
        new(buffer, new JsonWriterOptions { Encoder = ReplyFrames.Encoder, SkipValidation = true });
}
