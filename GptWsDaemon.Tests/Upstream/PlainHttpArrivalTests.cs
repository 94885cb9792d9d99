using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using GptWsDaemon.Config;
using GptWsDaemon.Observability;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Upstream;

/// <summary>
/// The upstream read path over plain HTTP/1.1 with keep-alive, where <see cref="PlainHttpArrival"/> waits on the socket
/// instead of inside HttpClient: every framing of the body (chunked anywhere, Content-Length, the end of the body in the
/// same segment as the last event) must still end, time out, break and cancel exactly as through the stream.
/// </summary>
[Category("loopback")]
[TestFixture]
public sealed class PlainHttpArrivalTests
{
    private static readonly string[] Deltas = ["Hel", "lo, ", "杭州", "的 🌧️", " rain", "."];
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(5);

    [Test, CancelAfter(20000)]
    public async Task TryAttach_AttachesToEveryPlainHttp11BodyKind([Values("chunked", "length", "close")] string framing, CancellationToken ct)
    {
        var body = Delta("x");
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            var head = framing switch
            {
                "chunked" => Encoding.ASCII.GetString(KeepAliveUpstream.ChunkedHead),
                "length" => $"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n",
                _ => "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
            };
            await res.SendAsync(head);
            await res.SendAsync(framing == "chunked" ? KeepAliveUpstream.Chunk(body) + KeepAliveUpstream.LastChunk : body);
            if (framing == "close")
            {
                res.Reset();
            }
        });
        using var http = new HttpClient();
        using var response = await http.GetAsync(upstream.BaseUrl, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);

        // If a runtime update renames what PlainHttpArrival reaches for, this fails: the shortcut would be silently off.
        Assert.That(PlainHttpArrival.TryAttach(stream), Is.Not.Null);
        Assert.That(PlainHttpArrival.TryAttach(new MemoryStream()), Is.Null);
    }

    [Test, CancelAfter(20000)]
    public async Task ChunkedKeepAlive_EachTokenInItsOwnSegment_ArrivesInOrder_AndTheConnectionIsReused(CancellationToken ct)
    {
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync(KeepAliveUpstream.ChunkedHead);
            await res.SendEachAsync(Deltas.Select(d => KeepAliveUpstream.Chunk(Delta(d))), Pause);
            await res.SendAsync(KeepAliveUpstream.Chunk(KeepAliveUpstream.Finish) + KeepAliveUpstream.Chunk("data: [DONE]\n\n") + KeepAliveUpstream.LastChunk);
        });
        using var openAi = Create(upstream);

        for (var i = 0; i < 3; i++)
        {
            Assert.That(await ContentOf(openAi, ct), Is.EqualTo(string.Concat(Deltas)));
        }

        Assert.That(upstream.ConnectionsAccepted, Is.EqualTo(1), "three streams one after another share one pooled connection");
    }

    [Test, CancelAfter(20000)]
    public async Task BodyEndsInTheSegmentOfTheLastEvent_WithoutDone_StreamEndsAtOnce([Values] bool splitLastChunk, CancellationToken ct)
    {
        // No [DONE]: only the end of the chunked body ends the stream, and it comes with the last event (or split from it),
        // while the connection stays open. Waiting on the socket after the body ended would hang until the idle timeout.
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync(KeepAliveUpstream.ChunkedHead);
            await res.SendEachAsync(Deltas.Select(d => KeepAliveUpstream.Chunk(Delta(d))), Pause);
            if (splitLastChunk)
            {
                await res.SendAsync(KeepAliveUpstream.Chunk(KeepAliveUpstream.Finish) + "0\r\n");
                await Task.Delay(50, ct);
                await res.SendAsync("\r\n");
            }
            else
            {
                await res.SendAsync(KeepAliveUpstream.Chunk(KeepAliveUpstream.Finish) + KeepAliveUpstream.LastChunk);
            }
        });
        using var openAi = Create(upstream, idle: TimeSpan.FromSeconds(60));

        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(await ContentOf(openAi, ct), Is.EqualTo(string.Concat(Deltas)));
        Assert.That(await ContentOf(openAi, ct), Is.EqualTo(string.Concat(Deltas)), "the connection is reusable afterwards");
        Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test, CancelAfter(60000)]
    public async Task ChunkedBodySplitAtEveryFewBytes_ContentIntact([Values(1, 2, 3, 7)] int seed, CancellationToken ct)
    {
        var deltas = Enumerable.Range(0, 12).Select(i => $"{i}é杭🌧️ ").ToArray();
        var body = string.Concat(deltas.Select(d => KeepAliveUpstream.Chunk(Delta(d))))
            + KeepAliveUpstream.Chunk(KeepAliveUpstream.Finish + "data: [DONE]\n\n") + KeepAliveUpstream.LastChunk;
        var bytes = Encoding.UTF8.GetBytes(body);
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync(KeepAliveUpstream.ChunkedHead);
            var random = new Random(seed);
            for (var at = 0; at < bytes.Length;)
            {
                var n = Math.Min(random.Next(1, 9), bytes.Length - at);
                await res.SendAsync(bytes[at..(at + n)]);
                at += n;
                await Task.Delay(1, ct);
            }
        });
        using var openAi = Create(upstream);

        Assert.That(await ContentOf(openAi, ct), Is.EqualTo(string.Concat(deltas)));
    }

    [Test, CancelAfter(20000)]
    public async Task ContentLengthBodyKeptAlive_WithoutDone_EndsWhenTheLengthIsReached(CancellationToken ct)
    {
        var events = Deltas.Select(Delta).Append(KeepAliveUpstream.Finish).ToArray();
        var length = events.Sum(e => Encoding.UTF8.GetByteCount(e));
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync($"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {length}\r\n\r\n");
            await res.SendEachAsync(events, Pause);
        });
        using var openAi = Create(upstream, idle: TimeSpan.FromSeconds(60));

        Assert.That(await ContentOf(openAi, ct), Is.EqualTo(string.Concat(Deltas)));
        Assert.That(await ContentOf(openAi, ct), Is.EqualTo(string.Concat(Deltas)));
        Assert.That(upstream.ConnectionsAccepted, Is.EqualTo(1));
    }

    [TestCase(false, ErrorCodes.UpstreamTimeout, TestName = "SilentWhileWaitingOnTheSocket_IdleTimeoutFires")]
    [TestCase(true, ErrorCodes.UpstreamBroken, TestName = "ResetWhileWaitingOnTheSocket_IsUpstreamBroken")]
    [CancelAfter(20000)]
    public async Task FailureWhileWaitingOnTheSocket_ContentKeptThenTheRightError(bool reset, int code, CancellationToken ct)
    {
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync(KeepAliveUpstream.ChunkedHead);
            await res.SendEachAsync(Deltas.Take(2).Select(d => KeepAliveUpstream.Chunk(Delta(d))), TimeSpan.FromMilliseconds(50));
            if (reset)
            {
                res.Reset();
            }
            else
            {
                await res.HangAsync();
            }
        });
        using var openAi = Create(upstream, idle: TimeSpan.FromMilliseconds(reset ? 5000 : 300));

        var (content, error) = await RunAsync(openAi, ct);

        Assert.That(content, Is.EqualTo(Deltas[0] + Deltas[1]));
        Assert.That(error, Is.TypeOf<UpstreamException>().With.Property(nameof(UpstreamException.Code)).EqualTo(code));
    }

    [Test, CancelAfter(20000)]
    public async Task CancelledWhileWaitingOnTheSocket_StopsPromptly(CancellationToken ct)
    {
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync(KeepAliveUpstream.ChunkedHead);
            await res.SendAsync(KeepAliveUpstream.Chunk(Delta("only")));
            await res.HangAsync();
        });
        using var openAi = Create(upstream, idle: TimeSpan.FromSeconds(60));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var received = new StringBuilder();
        Assert.That(
            async () =>
            {
                await foreach (var chunk in openAi.StreamAsync(Request(), cancel.Token))
                {
                    received.Append(chunk.Content.Span);
                    cancel.CancelAfter(100);
                }
            },
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(received.ToString(), Is.EqualTo("only"));
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test, CancelAfter(20000)]
    public async Task CancelledWhileWaitingOnTheSocket_ClosesTheUpstreamConnectionAtOnce(CancellationToken ct)
    {
        // A cancelled stream must stop the paid generation now: the upstream connection is closed, not drained (HttpClient
        // would otherwise read on for up to 2 s to reuse the connection while the model keeps generating).
        var stoppedAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync(KeepAliveUpstream.ChunkedHead);
            await res.StreamUntilClosedAsync(i => KeepAliveUpstream.Chunk(Delta($"t{i} ")), TimeSpan.FromMilliseconds(20));
            stoppedAt.TrySetResult(Stopwatch.GetTimestamp());
        });
        using var openAi = Create(upstream, idle: TimeSpan.FromSeconds(60));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        long cancelledAt = 0;

        Assert.That(
            async () =>
            {
                await foreach (var chunk in openAi.StreamAsync(Request(), cancel.Token))
                {
                    if (chunk.Content.Span.StartsWith("t5 "))
                    {
                        cancelledAt = Stopwatch.GetTimestamp();
                        await cancel.CancelAsync();
                    }
                }
            },
            Throws.InstanceOf<OperationCanceledException>());

        var stopped = await stoppedAt.Task.WaitAsync(ct);
        Assert.That(Stopwatch.GetElapsedTime(cancelledAt, stopped), Is.LessThan(TimeSpan.FromMilliseconds(1000)));
    }

    [Test, CancelAfter(20000)]
    public async Task Abandon_ClosesAnOpenBodysConnection_ButNeverOneBackInThePool(CancellationToken ct)
    {
        var hungUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requests = 0;
        await using var upstream = new KeepAliveUpstream(async res =>
        {
            await res.SendAsync(KeepAliveUpstream.ChunkedHead);
            await res.SendAsync(KeepAliveUpstream.Chunk(Delta("x")));
            if (Interlocked.Increment(ref requests) == 1)
            {
                await res.HangAsync(); // returns when the client closes the connection
                hungUp.TrySetResult();
            }
            else
            {
                await res.SendAsync(KeepAliveUpstream.LastChunk);
            }
        });
        using var http = new HttpClient();
        var buffer = new byte[4096];

        // An open body: nothing else would close this connection (nobody reads or drains it), so only Abandon can.
        using (var open = await http.GetAsync(upstream.BaseUrl, HttpCompletionOption.ResponseHeadersRead, ct))
        {
            var body = await open.Content.ReadAsStreamAsync(ct);
            Assert.That(await body.ReadAsync(buffer, ct), Is.GreaterThan(0));
            PlainHttpArrival.TryAttach(body)!.Abandon();
            await hungUp.Task.WaitAsync(ct);
        }

        // A complete body: its connection is back in the pool, and Abandon must leave it to the next request.
        using (var complete = await http.GetAsync(upstream.BaseUrl, HttpCompletionOption.ResponseHeadersRead, ct))
        {
            var body = await complete.Content.ReadAsStreamAsync(ct);
            var arrival = PlainHttpArrival.TryAttach(body)!;
            while (await body.ReadAsync(buffer, ct) > 0)
            {
            }

            arrival.Abandon();
        }

        using var next = await http.GetAsync(upstream.BaseUrl, ct);
        Assert.That(upstream.ConnectionsAccepted, Is.EqualTo(2), "the second connection was reused, untouched by Abandon");
    }

    private static string Delta(string content) => KeepAliveUpstream.Delta(content);

    private static ProviderStreams Create(KeepAliveUpstream upstream, TimeSpan? idle = null)
    {
        var settings = new DaemonSettings
        {
            ApiKey = "sk-test-key-000000000000",
            BaseUrl = upstream.BaseUrl,
            MaxRetries = 0,
            UpstreamIdleTimeout = idle ?? TimeSpan.FromSeconds(5),
        };
        return new ProviderStreams(settings, new SecretRedactor([settings.ApiKey!]), new DaemonMetrics());
    }

    private static ChatRequest Request() => new()
    {
        Seq = RequestSeq.FromString("1"),
        Model = "gpt-4o-mini",
        UpstreamModel = "gpt-4o-mini",
        Messages = [new ChatMessage("user", "hi")],
    };

    private static async Task<string> ContentOf(ProviderStreams openAi, CancellationToken ct)
    {
        var (content, error) = await RunAsync(openAi, ct);
        Assert.That(error, Is.Null, error?.ToString());
        return content;
    }

    private static async Task<(string Content, Exception? Error)> RunAsync(ProviderStreams openAi, CancellationToken ct)
    {
        var received = new StringBuilder();
        try
        {
            await foreach (var chunk in openAi.StreamAsync(Request(), ct))
            {
                received.Append(chunk.Content.Span);
            }

            return (received.ToString(), null);
        }
        catch (UpstreamException e)
        {
            return (received.ToString(), e);
        }
    }
}
