using System.Collections.Frozen;
using System.Net.Http.Headers;
using System.Text;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream;

/// <summary>
/// Builds every <see cref="UpstreamException"/> of the OpenAI upstream: the one place where upstream text (error bodies,
/// error events, transport messages, redirect targets) becomes a client-visible message, so all of it is reduced, has
/// its secrets removed and is cut to <see cref="UpstreamText.MaxChars"/> the same way — and logs, which print these
/// messages, get the same text. The error code comes from the error's content where it says what went wrong.
/// </summary>
public sealed class UpstreamFailures
{
    /// <summary>Most of an error body read for its message: enough for any JSON error, not a whole HTML site.</summary>
    private const int BodyCap = 64 * 1024;

    /// <summary>Codes and types providers send (OpenAI, Anthropic-style, HTTP statuses as codes), by what they mean.</summary>
    private static readonly FrozenDictionary<string, int> Causes = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase)
    {
        ["invalid_api_key"] = ErrorCodes.UpstreamAuth,
        ["authentication_error"] = ErrorCodes.UpstreamAuth,
        ["invalid_authentication"] = ErrorCodes.UpstreamAuth,
        ["permission_error"] = ErrorCodes.UpstreamAuth,
        ["401"] = ErrorCodes.UpstreamAuth,
        ["403"] = ErrorCodes.UpstreamAuth,
        ["rate_limit_exceeded"] = ErrorCodes.UpstreamRateLimit,
        ["insufficient_quota"] = ErrorCodes.UpstreamRateLimit,
        ["rate_limit_error"] = ErrorCodes.UpstreamRateLimit,
        ["429"] = ErrorCodes.UpstreamRateLimit,
        ["model_not_found"] = ErrorCodes.UpstreamError,
        ["invalid_request_error"] = ErrorCodes.UpstreamError,
        ["context_length_exceeded"] = ErrorCodes.UpstreamError,
        ["not_found_error"] = ErrorCodes.UpstreamError,
        ["invalid_request"] = ErrorCodes.UpstreamError,
        ["invalid_value"] = ErrorCodes.UpstreamError,
        ["unsupported_parameter"] = ErrorCodes.UpstreamError,
        ["unsupported_value"] = ErrorCodes.UpstreamError,
        ["400"] = ErrorCodes.UpstreamError,
        ["404"] = ErrorCodes.UpstreamError,
        ["422"] = ErrorCodes.UpstreamError,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly DaemonSettings _settings;
    private readonly SecretRedactor _redactor;

    /// <summary>Creates the factory.</summary>
    public UpstreamFailures(DaemonSettings settings, SecretRedactor redactor)
    {
        _settings = settings;
        _redactor = redactor;
    }

    /// <summary>Upstream text as a client may see it: HTML reduced to its title, no control characters, no secrets, at most 300 characters.</summary>
    public string Clean(string text) => UpstreamText.Cap(_redactor.Redact(UpstreamText.Reduce(text)));

    /// <summary>protocol.md §6 code for an error whose content says <paramref name="code"/> / <paramref name="type"/>, else <paramref name="fallback"/>.</summary>
    public static int CodeFor(string? code, string? type, int fallback) => Classify(code) ?? Classify(type) ?? fallback;

    /// <summary>A <c>data: {"error":…}</c> or <c>event: error</c> after the 200: 2005 unless its content names the cause.</summary>
    public UpstreamException MidStream(UpstreamErrorBody body) => Create(
        CodeFor(body.Code, body.Type, ErrorCodes.UpstreamBroken), "upstream sent an error mid-stream: ", body.Message ?? "unknown error", body.UpstreamCode);

    /// <summary>An <c>event: error</c>: its data is an error body, or plain text.</summary>
    public UpstreamException ErrorEvent(ReadOnlySpan<byte> data) => UpstreamErrorBody.TryRead(data, out var body)
        ? MidStream(body)
        : Create(ErrorCodes.UpstreamBroken, "upstream sent an error mid-stream: ", data.IsEmpty ? "unknown error" : Encoding.UTF8.GetString(data[..Math.Min(data.Length, BodyCap)]), null);

    /// <summary>The body broke off: reset, malformed transfer, a line past its cap.</summary>
    public UpstreamException Broken(Exception e) => Create(ErrorCodes.UpstreamBroken, "upstream stream broke: ", e.Message, null, e);

    /// <summary>No connection to the upstream (DNS, refused, TLS).</summary>
    public UpstreamException Unreachable(HttpRequestException e) => Create(ErrorCodes.UpstreamError, "could not reach the upstream: ", e.Message, null, e);

    /// <summary>protocol.md §6 timeouts: connect, first token, silence mid-stream, or the whole stream's cap.</summary>
    public UpstreamException TimedOut(StreamDeadline deadline, bool beforeFirstToken, Exception inner) => new(
        ErrorCodes.UpstreamTimeout,
        deadline.CapReached ? $"upstream stream ran longer than openai.max_stream_seconds ({_settings.MaxStreamDuration.TotalSeconds:0} s)"
        : beforeFirstToken ? $"upstream sent no token within {_settings.FirstTokenTimeout.TotalSeconds:0} s"
        : $"upstream sent no content for {_settings.UpstreamIdleTimeout.TotalSeconds:0} s mid-stream (went silent)",
        inner);

    /// <summary>The connect timeout fired.</summary>
    public UpstreamException ConnectTimedOut(Exception inner) =>
        new(ErrorCodes.UpstreamTimeout, $"could not connect to the upstream within {_settings.ConnectTimeout.TotalSeconds:0} s", inner);

    /// <summary>A non-2xx response: the status decides 2001/2002, the body's code refines the rest; the body's message is kept.</summary>
    public async Task<UpstreamException> DescribeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (status is >= 300 and < 400)
        {
            return Create(ErrorCodes.UpstreamError, $"upstream redirected ({status}) to ", response.Headers.Location?.ToString() ?? "nowhere", null, suffix: ": set base_url to where it points");
        }

        UpstreamErrorBody body = default;
        string? text = null;
        try
        {
            var bytes = await ReadCappedAsync(response.Content, cancellationToken).ConfigureAwait(false);
            if (UpstreamErrorBody.TryRead(bytes, out body))
            {
                text = body.Message;
            }
            else if (bytes.Length > 0)
            {
                text = Encoding.UTF8.GetString(bytes);
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // The status alone still says enough.
        }

        var code = status switch
        {
            401 or 403 => ErrorCodes.UpstreamAuth,
            429 => ErrorCodes.UpstreamRateLimit,
            _ => CodeFor(body.Code, body.Type, ErrorCodes.UpstreamError),
        };
        var prefix = status switch
        {
            401 or 403 => $"upstream refused the API key ({status})",
            429 => $"upstream rate limit ({status})",
            _ => $"upstream error ({status})",
        };
        return text is null ? new UpstreamException(code, prefix, null, body.UpstreamCode is { } c ? Clean(c) : null) : Create(code, prefix + ": ", text, body.UpstreamCode);
    }

    /// <summary>How long to wait before a retry, from the response's Retry-After: within [0, 1 min], or null.</summary>
    public static TimeSpan? RetryAfter(HttpResponseHeaders headers)
    {
        var header = headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        if (delay is null)
        {
            return null;
        }

        // Never wait less than nothing nor longer than a minute; the first-token clock still bounds the total.
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : delay;
    }

    private UpstreamException Create(int code, string prefix, string upstreamText, string? upstreamCode, Exception? inner = null, string suffix = "")
    {
        var cleanCode = upstreamCode is null ? null : Clean(upstreamCode);
        return new UpstreamException(code, prefix + Clean(upstreamText) + suffix, inner, string.IsNullOrEmpty(cleanCode) ? null : cleanCode);
    }

    /// <summary>What an error's code or type says went wrong; null when it names nothing we map.</summary>
    private static int? Classify(string? value) => value is not null && Causes.TryGetValue(value, out var code) ? code : null;

    private static async Task<byte[]> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[BodyCap];
            var total = 0;
            int read;
            while (total < BodyCap && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            return buffer.AsSpan(0, total).ToArray();
        }
    }
}
