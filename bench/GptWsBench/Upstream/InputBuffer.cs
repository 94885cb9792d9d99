using System.Buffers;
using System.Net.Sockets;

namespace GptWsBench.Upstream;

/// <summary>The bytes received on one upstream connection and not yet consumed; a pooled buffer that grows when full.</summary>
internal sealed class InputBuffer : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(8192);

    public InputBuffer(Socket socket) => _socket = socket;

    /// <summary>Bytes held.</summary>
    public int Length { get; private set; }

    /// <summary>The bytes held.</summary>
    public ReadOnlySpan<byte> Data => _buffer.AsSpan(0, Length);

    /// <summary>Receives more bytes; false at end of stream.</summary>
    public async ValueTask<bool> ReceiveMoreAsync(CancellationToken cancellationToken)
    {
        if (Length == _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        var n = await _socket.ReceiveAsync(_buffer.AsMemory(Length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        Length += n;
        return n > 0;
    }

    /// <summary>Drops the first <paramref name="count"/> bytes.</summary>
    public void Consume(int count)
    {
        _buffer.AsSpan(count, Length - count).CopyTo(_buffer);
        Length -= count;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
