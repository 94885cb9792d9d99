using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptWsDaemon.Protocol;

/// <summary>
/// Writes reply frames (protocol.md §5) straight to UTF-8 with <see cref="Utf8JsonWriter"/> into pooled buffers:
/// <c>{"code":0,"msg":"ok","seq":S,"data":{"consume_time":"0.38","finish_reason":null,"contents":"…"}}</c>.
/// </summary>
public static class ReplyFrames
{
    /// <summary>Non-ASCII text goes out as UTF-8, not \u escapes: half the bytes for Chinese, readable in logs.</summary>
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    [ThreadStatic]
    private static FrameBuilder? t_builder;

    /// <summary>A content frame: <c>finish_reason: null</c>.</summary>
    public static OutgoingFrame Content(RequestSeq seq, long receivedAt, ReadOnlySpan<char> contents)
    {
        var b = Builder();
        var w = b.Begin(ErrorCodes.Ok, "ok"u8, seq);
        WriteData(w, receivedAt, default, contents);
        return b.End();
    }

    /// <summary>A reasoning frame (protocol.md §5.1): <c>contents: ""</c> and the model's reasoning in <c>data.reasoning</c>.</summary>
    public static OutgoingFrame Reasoning(RequestSeq seq, long receivedAt, ReadOnlySpan<char> reasoning)
    {
        var b = Builder();
        var w = b.Begin(ErrorCodes.Ok, "ok"u8, seq);
        WriteData(w, receivedAt, default, [], reasoning: reasoning);
        return b.End();
    }

    /// <summary>The final frame of a stream: <c>contents: ""</c>, a finish_reason, and usage when known.</summary>
    /// <remarks><paramref name="provider"/> and <paramref name="keyId"/> (masked) say who served it (protocol.md §5); null: not written.</remarks>
    /// <remarks><paramref name="extras"/>: a refusal, the tool calls (protocol.md §5.2).</remarks>
    public static OutgoingFrame Final(RequestSeq seq, long receivedAt, string finishReason, UsageInfo? usage, string? provider = null, string? keyId = null, FinalExtras extras = default)
    {
        var b = Builder();
        var w = b.Begin(ErrorCodes.Ok, "ok"u8, seq);
        WriteData(w, receivedAt, finishReason, [], usage, served: (provider, keyId), extras: extras);
        return b.End();
    }

    /// <summary>
    /// An error frame: code, message, the seq or null, <c>finish_reason: "error"</c>, and <c>data.upstream_code</c> (the
    /// provider's own error code, e.g. <c>invalid_api_key</c>) when <paramref name="upstreamCode"/> is not null.
    /// </summary>
    public static OutgoingFrame Error(int code, string message, RequestSeq? seq, long receivedAt, string? upstreamCode = null, string? provider = null, string? keyId = null, int? retryAfter = null)
    {
        var b = Builder();
        var w = b.Begin(code, message, seq);
        WriteData(w, receivedAt, "error", [], upstreamCode: upstreamCode, served: (provider, keyId), extras: new FinalExtras(false, null) { RetryAfter = retryAfter });
        return b.End();
    }

    /// <summary>The last frame for a reader of a resumable stream that a later resume took over (protocol.md §4.5).</summary>
    public static OutgoingFrame Detached(RequestSeq seq, long receivedAt)
    {
        var b = Builder();
        var w = b.Begin(ErrorCodes.Ok, "stream resumed on another connection"u8, seq);
        WriteData(w, receivedAt, "cancelled", [], extras: new FinalExtras(false, null) { Detached = true });
        return b.End();
    }

    /// <summary>The answer to <c>{"action":"ping"}</c>: <c>{"code":0,"msg":"pong"}</c> (with the seq if one was sent).</summary>
    public static OutgoingFrame Pong(RequestSeq? seq)
    {
        var b = Builder();
        var w = b.Writer;
        w.WriteStartObject();
        w.WriteNumber("code"u8, 0);
        w.WriteString("msg"u8, "pong"u8);
        if (seq is not null)
        {
            w.WritePropertyName("seq"u8);
            w.WriteRawValue(seq.Json, skipInputValidation: true);
        }

        w.WriteEndObject();
        return b.End();
    }

    private static void WriteData(
        Utf8JsonWriter w, long receivedAt, string? finishReason, ReadOnlySpan<char> contents, UsageInfo? usage = null, string? upstreamCode = null,
        (string? Provider, string? KeyId) served = default, FinalExtras extras = default, ReadOnlySpan<char> reasoning = default)
    {
        w.WriteStartObject("data"u8);
        Span<byte> time = stackalloc byte[24];
        w.WriteString("consume_time"u8, time[..FormatSeconds(receivedAt == 0 ? 0 : Stopwatch.GetTimestamp() - receivedAt, time)]);
        if (finishReason is null)
        {
            w.WriteNull("finish_reason"u8);
        }
        else
        {
            w.WriteString("finish_reason"u8, finishReason);
        }

        w.WriteString("contents"u8, contents);
        if (!reasoning.IsEmpty)
        {
            w.WriteString("reasoning"u8, reasoning);
        }

        if (usage is { } u)
        {
            w.WriteStartObject("usage"u8);
            w.WriteNumber("prompt_tokens"u8, u.PromptTokens);
            w.WriteNumber("completion_tokens"u8, u.CompletionTokens);
            w.WriteNumber("total_tokens"u8, u.PromptTokens + u.CompletionTokens);
            if (u.Estimated)
            {
                w.WriteBoolean("estimated"u8, true);
            }
            if (u.CachedTokens is { } cached)
            {
                w.WriteStartObject("prompt_tokens_details"u8);
                w.WriteNumber("cached_tokens"u8, cached);
                w.WriteEndObject();
            }

            if (u.ReasoningTokens is { } thought)
            {
                w.WriteStartObject("completion_tokens_details"u8);
                w.WriteNumber("reasoning_tokens"u8, thought);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        if (extras.RetryAfter is { } retry)
        {
            w.WriteNumber("retry_after"u8, retry);
        }

        if (extras.Detached)
        {
            w.WriteBoolean("detached"u8, true);
        }

        if (extras.Refusal)
        {
            w.WriteBoolean("refusal"u8, true);
        }

        if (extras.ToolCalls is { } calls)
        {
            w.WritePropertyName("tool_calls"u8);
            w.WriteRawValue(calls, skipInputValidation: true);
        }

        if (upstreamCode is not null)
        {
            w.WriteString("upstream_code"u8, upstreamCode);
        }

        if (served.Provider is not null)
        {
            w.WriteString("provider"u8, served.Provider);
        }

        if (served.KeyId is not null)
        {
            w.WriteString("key_id"u8, served.KeyId);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// Writes <paramref name="elapsedTicks"/> (Stopwatch ticks) as seconds with two decimals, rounded half up: what
    /// <c>"F2"</c> on the double gives, in integer arithmetic (no floating-point formatting on every frame).
    /// </summary>
    internal static int FormatSeconds(long elapsedTicks, Span<byte> destination)
    {
        var centiseconds = elapsedTicks <= 0 ? 0 : (long)((UInt128)(ulong)elapsedTicks * 100 + (ulong)(Stopwatch.Frequency / 2)) / Stopwatch.Frequency;
        var (whole, fraction) = Math.DivRem(centiseconds, 100);
        whole.TryFormat(destination, out var n, default, CultureInfo.InvariantCulture);
        destination[n++] = (byte)'.';
        destination[n++] = (byte)('0' + fraction / 10);
        destination[n++] = (byte)('0' + fraction % 10);
        return n;
    }

    private static FrameBuilder Builder() => t_builder ??= new FrameBuilder();

    /// <summary>A per-thread writer reused for every frame; the finished bytes are copied into a buffer rented for the send.</summary>
    private sealed class FrameBuilder : JsonScratch
    {
        public Utf8JsonWriter Begin(int code, ReadOnlySpan<byte> msg, RequestSeq? seq)
        {
            var w = BeginCore(code);
            w.WriteString("msg"u8, msg);
            WriteSeq(w, seq);
            return w;
        }

        public Utf8JsonWriter Begin(int code, string msg, RequestSeq? seq)
        {
            var w = BeginCore(code);
            w.WriteString("msg"u8, msg);
            WriteSeq(w, seq);
            return w;
        }

        public OutgoingFrame End()
        {
            var written = Flushed();
            var rented = ArrayPool<byte>.Shared.Rent(written.Length);
            written.CopyTo(rented);
            Reset();
            return new OutgoingFrame(rented, written.Length);
        }

        private Utf8JsonWriter BeginCore(int code)
        {
            Reset(); // a frame that threw half-way (none should) must not leak into this one
            Writer.WriteStartObject();
            Writer.WriteNumber("code"u8, code);
            return Writer;
        }

        private static void WriteSeq(Utf8JsonWriter w, RequestSeq? seq)
        {
            w.WritePropertyName("seq"u8);
            if (seq is null)
            {
                w.WriteNullValue();
            }
            else
            {
                w.WriteRawValue(seq.Json, skipInputValidation: true);
            }
        }
    }
}
