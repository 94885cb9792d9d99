using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GptWsBench.Load;

/// <summary>
/// Streams with <c>POST /v1/chat/completions</c> and reads the SSE answer: the floor (straight to the fake upstream)
/// and the peer (through Portkey). Both use this same client code, so "added" time is the gateway's alone.
/// </summary>
public sealed class SsePath : IStreamPath, IStreamWorker
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;
    private readonly Uri _uri;
    private readonly KeyValuePair<string, string>[] _headers;

    /// <summary>Creates the path posting to <paramref name="baseUrl"/>/chat/completions with extra headers.</summary>
    public SsePath(string name, string baseUrl, params KeyValuePair<string, string>[] headers)
    {
        Name = name;
        _uri = new Uri(baseUrl.TrimEnd('/') + "/chat/completions");
        _headers = headers;
        _http = new HttpClient(
            new SocketsHttpHandler
            {
                MaxConnectionsPerServer = int.MaxValue,
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
                PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                UseProxy = false,
            },
            disposeHandler: true)
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public Task<IStreamWorker> OpenWorkerAsync(CancellationToken cancellationToken) => Task.FromResult<IStreamWorker>(this);

    /// <inheritdoc/>
    public async Task RunAsync(StreamTracker tracker, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = new ByteArrayContent(ChatBodies.OpenAi(tracker.Id)) };
        request.Content.Headers.ContentType = Json;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-bench-not-a-real-key");
        foreach (var (name, value) in _headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            tracker.Started(Stopwatch.GetTimestamp());
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                if (!response.IsSuccessStatusCode)
                {
                    var n = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    tracker.Fail($"HTTP {(int)response.StatusCode}: {Encoding.UTF8.GetString(buffer, 0, Math.Min(n, 200))}");
                    return;
                }

                await ReadEventsAsync(stream, buffer, tracker, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or JsonException)
        {
            tracker.Fail(e.GetType().Name + ": " + e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    private static async Task ReadEventsAsync(Stream stream, byte[] buffer, StreamTracker tracker, CancellationToken cancellationToken)
    {
        var start = 0;
        var end = 0;
        var done = false;
        while (true)
        {
            if (end == buffer.Length)
            {
                if (start == 0)
                {
                    tracker.Fail("SSE line longer than the read buffer");
                    return;
                }

                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
                start = 0;
            }

            var read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (!done)
                {
                    tracker.Fail("stream ended before [DONE]");
                }

                return;
            }

            var now = Stopwatch.GetTimestamp();
            end += read;
            int newline;
            while ((newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n')) >= 0)
            {
                var line = buffer.AsSpan(start, newline);
                start += newline + 1;
                if (!line.IsEmpty && line[^1] == (byte)'\r')
                {
                    line = line[..^1];
                }

                if (!line.StartsWith("data:"u8))
                {
                    continue;
                }

                var data = line[5..];
                if (!data.IsEmpty && data[0] == (byte)' ')
                {
                    data = data[1..];
                }

                if (data.SequenceEqual("[DONE]"u8))
                {
                    done = true;
                    tracker.Finished(stop: true);
                }
                else
                {
                    OnChunk(data, now, tracker);
                }
            }

            if (start == end)
            {
                start = end = 0;
            }
        }
    }

    /// <summary>Picks <c>content</c> strings and an <c>error</c> out of a chunk, at any depth, with no DOM.</summary>
    private static void OnChunk(ReadOnlySpan<byte> json, long now, StreamTracker tracker)
    {
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    FrameReader.Deliver(ref reader, now, tracker);
                }
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                tracker.Fail("error event: " + Encoding.UTF8.GetString(json[..Math.Min(json.Length, 200)]));
                return;
            }
        }
    }
}
