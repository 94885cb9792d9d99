using System.Net;
using System.Text;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Upstream;

/// <summary>The upstream request body that lets go of its bytes once sent, and the request without its text.</summary>
[Category("loopback")]
[TestFixture]
public sealed class RequestBodyContentTests
{
    [Test, CancelAfter(10000)]
    public async Task Content_IsSentWholeAsJson_AndAfterReleaseNeitherHoldsNorSendsTheBytes(CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"messages\":[]}");
        using var content = new RequestBodyContent(body);

        var sent = await content.ReadAsByteArrayAsync(ct);
        Assert.Multiple(() =>
        {
            Assert.That(sent, Is.EqualTo(body));
            Assert.That(content.Headers.ContentType!.MediaType, Is.EqualTo("application/json"));
            Assert.That(content.Headers.ContentLength, Is.EqualTo(body.Length));
        });

        using var released = new RequestBodyContent(body);
        released.Release();
        Assert.Multiple(() =>
        {
            Assert.That(released.Headers.ContentLength, Is.Null);
            Assert.ThrowsAsync<InvalidOperationException>(async () => await released.CopyToAsync(Stream.Null, ct));
        });
    }

    [Test, CancelAfter(10000)]
    public async Task Content_OverRealHttp_ArrivesWithLengthAndType(CancellationToken ct)
    {
        using var listener = new HttpListener();
        var port = Support.DaemonFixture.FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var body = Encoding.UTF8.GetBytes(new string('x', 70_000)); // more than one socket write
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/") { Content = new RequestBodyContent(body) };
        var send = invoker.SendAsync(request, ct);

        var context = await listener.GetContextAsync().WaitAsync(ct);
        using var received = new MemoryStream();
        await context.Request.InputStream.CopyToAsync(received, ct);
        Assert.Multiple(() =>
        {
            Assert.That(context.Request.ContentLength64, Is.EqualTo(body.Length));
            Assert.That(context.Request.ContentType, Is.EqualTo("application/json"));
            Assert.That(received.ToArray(), Is.EqualTo(body));
        });
        context.Response.Close();
        using var response = await send;
    }

    [Test]
    public void WithoutText_DropsMessagesAndPrompt_KeepsEverythingElse()
    {
        var request = new ChatRequest
        {
            Seq = RequestSeq.FromString("s1"),
            Model = "gpt-4o",
            UpstreamModel = "gpt-4o-2024",
            Messages = [new ChatMessage("user", "a long question")],
            OriginStream = false,
            ReceivedAt = 42,
        };

        var slim = request.WithoutText();

        Assert.Multiple(() =>
        {
            Assert.That(slim.Messages, Is.Empty);
            Assert.That(slim.Query, Is.Empty);
            Assert.That(slim with { Messages = request.Messages }, Is.EqualTo(request));
            Assert.That(request.Messages, Has.Count.EqualTo(1), "the original is left as it was");
            Assert.That(slim.WithoutText(), Is.SameAs(slim), "nothing to drop: no copy");
        });
    }
}
