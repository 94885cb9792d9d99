using System.Buffers;
using System.Text;
using System.Text.Json;

namespace GptWsBench.Load;

/// <summary>Shared JSON picking for both client kinds: hands a string value's UTF-8 bytes to a tracker without allocating.</summary>
public static class FrameReader
{
    /// <summary>Delivers the string at the reader as a content frame (unescaping only when the JSON escaped it).</summary>
    public static void Deliver(ref Utf8JsonReader reader, long now, StreamTracker tracker)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            tracker.Content(reader.ValueSpan, now);
            return;
        }

        var rented = ArrayPool<byte>.Shared.Rent(reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length);
        try
        {
            var n = reader.CopyString(rented);
            tracker.Content(rented.AsSpan(0, n), now);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Reads a GptWsDaemon reply frame: <c>{"code":0,"msg":"ok","seq":S,"data":{…,"finish_reason":F,"contents":C}}</c>.
    /// Content goes to the tracker; returns true when the frame ended the stream (final or error frame).
    /// </summary>
    public static bool DaemonFrame(ReadOnlySpan<byte> json, ReadOnlySpan<byte> expectedSeq, long now, StreamTracker tracker)
    {
        var reader = new Utf8JsonReader(json);
        var code = 0;
        string? finish = null;
        var seqOk = false;
        var contentsAt = -1L;
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                code = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : -1;
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                seqOk = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals(expectedSeq);
            }
            else if (reader.ValueTextEquals("finish_reason"u8))
            {
                reader.Read();
                finish = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("contents"u8))
            {
                reader.Read();
                contentsAt = reader.TokenStartIndex;
            }
        }

        if (!seqOk)
        {
            tracker.Fail("frame for another seq: " + Encoding.UTF8.GetString(json[..Math.Min(json.Length, 200)]));
            return false;
        }

        if (code != 0)
        {
            tracker.Fail("error frame: " + Encoding.UTF8.GetString(json[..Math.Min(json.Length, 200)]));
            return true;
        }

        if (finish is not null)
        {
            tracker.Finished(finish == "stop");
            return true;
        }

        if (contentsAt >= 0)
        {
            // Re-read just the contents string (it is usually last, so this is short).
            var value = new Utf8JsonReader(json[(int)contentsAt..]);
            value.Read();
            Deliver(ref value, now, tracker);
        }

        return false;
    }
}
