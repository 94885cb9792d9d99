using System.Buffers;
using System.Net;
using System.Runtime.CompilerServices;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using NLog;

namespace GptWsDaemon.Upstream;

/// <summary>
/// Streams from an OpenAI-compatible provider over one shared, pooled <see cref="SocketsHttpHandler"/>. Retries
/// 429/5xx/connect failures before the first token only; enforces connect, first-token and idle timeouts itself.
/// </summary>
/// <remarks>
/// Requests go to the handler through an <see cref="HttpMessageInvoker"/>, not an <see cref="HttpClient"/>: HttpClient
/// adds nothing we use (its timeout would be off, responses are never buffered) but costs every request a linked token
/// source, an async state machine and a copy of its default headers.
/// </remarks>
public sealed class OpenAiUpstream : IChatUpstream, IDisposable
{
    private static readonly Logger Log = LogManager.GetCurrentClassLogger();
    private readonly DaemonSettings _settings;
    private readonly HttpMessageInvoker _http;
    private readonly string _authorization;
    private readonly UpstreamFailures _failures;
    private readonly DaemonMetrics _metrics;
    private readonly Dictionary<string, Uri> _uris;

    /// <summary>Creates the upstream.</summary>
    public OpenAiUpstream(DaemonSettings settings, SecretRedactor redactor, DaemonMetrics metrics)
    {
        _settings = settings;
        _failures = new UpstreamFailures(settings, redactor);
        _metrics = metrics;
        // Parsed once: a Uri per request would be two more objects surviving with every stream.
        _uris = new Dictionary<string, Uri>(StringComparer.Ordinal)
        {
            [UpstreamRequestBody.ChatPath] = new(settings.BaseUrl + UpstreamRequestBody.ChatPath),
            [UpstreamRequestBody.CompletionsPath] = new(settings.BaseUrl + UpstreamRequestBody.CompletionsPath),
        };
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = settings.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = int.MaxValue,
            EnableMultipleHttp2Connections = true,
            AutomaticDecompression = DecompressionMethods.None,
            // An API never redirects a POST on purpose: a redirect is a base_url to fix (http:// to https://, say), and
            // following one would turn the POST into a GET. Off also takes a handler out of every request's path.
            AllowAutoRedirect = false,
            // A response abandoned mid-body is not drained for reuse: only what is already buffered (the end of a body
            // after [DONE]) is taken; otherwise the connection closes at once, with a reset (UpstreamSockets).
            ResponseDrainTimeout = TimeSpan.Zero,
            ConnectCallback = UpstreamSockets.ConnectAsync,
            UseCookies = false,
            UseProxy = false,
        };
        // No overall timeout (HttpClient's 100 s default would kill long streams, protocol.md §9 "Deadlines"); our own timeouts apply.
        _http = new HttpMessageInvoker(handler, disposeHandler: true);
        _authorization = "Bearer " + settings.ApiKey;
    }

    /// <inheritdoc/>
    public string Name => "openai";

    /// <inheritdoc/>
    /// <remarks>
    /// The request's text is used once, here, to write the body: the stream that follows holds neither the text nor,
    /// once the request is sent, the body (see <see cref="RequestBodyContent"/>), so a long conversation costs memory
    /// only until it is on the wire, not for as long as the answer streams.
    /// </remarks>
    public IAsyncEnumerable<UpstreamChunk> StreamAsync(ChatRequest request, CancellationToken cancellationToken) =>
        StreamAsync(UpstreamRequestBody.Write(request), _uris[UpstreamRequestBody.PathFor(request)], request.Seq, cancellationToken);

    private async IAsyncEnumerable<UpstreamChunk> StreamAsync(byte[] body, Uri uri, RequestSeq seq, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var timeout = new StreamDeadline(_settings.FirstTokenTimeout, _settings.MaxStreamDuration, cancellationToken);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var response = await SendWithRetriesAsync(body, uri, seq, timeout, cancellationToken).ConfigureAwait(false);
        Stream stream;
        try
        {
            // SocketsHttpHandler's response content hands its stream over synchronously; the async call would only
            // wrap it in a Task that lives as long as the response.
            stream = response.Content.ReadAsStream(timeout.Token);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw _failures.TimedOut(timeout, true, e);
        }

        var events = new SseReader(stream, arrival: PlainHttpArrival.TryAttach(stream)).ReadAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        char[]? text = null; // each chunk's content, unescaped; rented once per stream, not a string per token
        var stitcher = default(SurrogateStitcher);
        await using (events.ConfigureAwait(false))
        {
            try
            {
                var first = true;
                var finished = false;
                UpstreamException? failure = null;
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await events.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                    {
                        failure = _failures.TimedOut(timeout, first, e);
                        break;
                    }
                    catch (Exception e) when (e is IOException or HttpRequestException or InvalidDataException)
                    {
                        failure = _failures.Broken(e);
                        break;
                    }

                    if (!more)
                    {
                        failure = finished ? null : new UpstreamException(ErrorCodes.UpstreamBroken, "upstream stream ended before [DONE]");
                        break;
                    }

                    var ev = events.Current;
                    if (ev.Data.Span.SequenceEqual("[DONE]"u8))
                    {
                        break;
                    }

                    if (ev.EventType == "error")
                    {
                        failure = _failures.ErrorEvent(ev.Data.Span);
                        break;
                    }

                    if (ev.Data.IsEmpty)
                    {
                        continue; // "data:" alone: a keep-alive some servers send, no chunk
                    }

                    UpstreamChunk chunk;
                    try
                    {
                        chunk = ChunkParser.Parse(ev.Data.Span, ref text);
                    }
                    catch (ReportedErrorException e)
                    {
                        failure = _failures.MidStream(e.Body);
                        break;
                    }

                    var length = stitcher.Mend(ref text, chunk.Content.Length);
                    if (chunk.FinishReason is not null)
                    {
                        length = stitcher.Flush(ref text, length);
                    }

                    chunk = chunk with { Content = length == 0 ? default : text.AsMemory(0, length) };
                    if (first && !chunk.Content.IsEmpty)
                    {
                        first = false;
                        _metrics.ObserveTimeToFirstToken(System.Diagnostics.Stopwatch.GetElapsedTime(started));
                    }

                    // protocol.md §9, openai.idle_timeout_seconds, once content flows: only content or the finish is progress; empty
                    // events and comments would otherwise keep a stream that says nothing alive for ever.
                    if (!first && (!chunk.Content.IsEmpty || chunk.FinishReason is not null))
                    {
                        timeout.Extend(_settings.UpstreamIdleTimeout);
                    }

                    finished |= chunk.FinishReason is not null;
                    yield return chunk;
                }

                // A high surrogate still held back will never be paired: its U+FFFD goes out before the end or the error.
                var tail = stitcher.Flush(ref text, 0);
                if (tail > 0)
                {
                    yield return new UpstreamChunk(text.AsMemory(0, tail), null, null);
                }

                if (failure is not null)
                {
                    throw failure;
                }
            }
            finally
            {
                if (text is not null)
                {
                    ArrayPool<char>.Shared.Return(text);
                }
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();

    /// <summary>Sends the request; protocol.md §6: "429/5xx/connect failures before the first token are retried with backoff … honour Retry-After".</summary>
    /// <remarks>Its state machine lives only until the response headers arrive, so a pooled one serves many streams.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<HttpResponseMessage> SendWithRetriesAsync(byte[] body, Uri uri, RequestSeq seq, StreamDeadline timeout, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var last = attempt >= _settings.MaxRetries;
            UpstreamException failure;
            TimeSpan? retryAfter = null;
            try
            {
                var content = new RequestBodyContent(body);
                using var message = new HttpRequestMessage(HttpMethod.Post, uri)
                {
                    Content = content,
                    // HTTP/2 where TLS negotiates it, HTTP/1.1 otherwise (plain http:// has no upgrade).
                    Version = HttpVersion.Version20,
                    VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
                };
                message.Headers.TryAddWithoutValidation("Authorization", _authorization);
                message.Headers.TryAddWithoutValidation("Accept", "text/event-stream");

                // The response comes back as soon as its headers are in; its body is read as it streams.
                var response = await _http.SendAsync(message, timeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    content.Release(); // no retry from here on, by us or by the handler
                    return response;
                }

                using (response)
                {
                    failure = await _failures.DescribeAsync(response, timeout.Token).ConfigureAwait(false);
                    retryAfter = UpstreamFailures.RetryAfter(response.Headers);
                    var retryable = response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500;
                    if (!retryable)
                    {
                        throw failure;
                    }
                }
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                // Either our first-token clock ran out (no retry: the budget is spent) or the connect timeout fired.
                if (timeout.Expired)
                {
                    throw _failures.TimedOut(timeout, true, e);
                }

                failure = _failures.ConnectTimedOut(e);
            }
            catch (HttpRequestException e) when (e.StatusCode is null)
            {
                failure = _failures.Unreachable(e);
            }

            if (last)
            {
                throw failure;
            }

            _metrics.CountRetry();
            var delay = retryAfter ?? Backoff(attempt);
            Log.Info("seq={0} upstream attempt {1} failed ({2}: {3}); retrying in {4:0} ms", seq, attempt + 1, failure.Code, failure.Message, delay.TotalMilliseconds);
            try
            {
                await Task.Delay(delay, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw _failures.TimedOut(timeout, true, e);
            }
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        // Exponential with full jitter in [0.5, 1.5) so that many streams failing together do not retry together.
        var factor = Math.Pow(2, attempt) * (0.5 + Random.Shared.NextDouble());
        return TimeSpan.FromMilliseconds(_settings.RetryBaseDelay.TotalMilliseconds * factor);
    }
}
