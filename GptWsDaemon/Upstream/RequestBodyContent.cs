using System.Net;
using System.Net.Http.Headers;

namespace GptWsDaemon.Upstream;

/// <summary>
/// A JSON request body that can let go of its bytes. The handler keeps a request, and so its content, until the
/// response has been read to the end: for a stream that is its whole life, and a long conversation's body would stay
/// alive (and be copied by every garbage collection) for nothing once it is on the wire. <see cref="Release"/> drops
/// it when the response headers are in and the request can no longer be sent again.
/// </summary>
internal sealed class RequestBodyContent : HttpContent
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private byte[]? _body;

    /// <summary>Wraps <paramref name="body"/> (not copied), typed application/json.</summary>
    public RequestBodyContent(byte[] body)
    {
        _body = body;
        Headers.ContentType = JsonContentType;
    }

    /// <summary>Forgets the bytes; sending the content again after this fails.</summary>
    public void Release() => _body = null;

    /// <inheritdoc/>
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    /// <inheritdoc/>
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        stream.WriteAsync(Body(), cancellationToken).AsTask();

    /// <inheritdoc/>
    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        stream.Write(Body());

    /// <inheritdoc/>
    protected override bool TryComputeLength(out long length)
    {
        length = _body?.Length ?? 0;
        return _body is not null;
    }

    private byte[] Body() => _body ?? throw new InvalidOperationException("the request body was released after it was sent");
}
