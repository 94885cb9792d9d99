using System.Buffers;

namespace GptWsDaemon.Protocol;

/// <summary>A serialized reply frame in a rented buffer; whoever sends it returns the buffer with <see cref="Release"/>.</summary>
public readonly struct OutgoingFrame
{
    private readonly byte[] _buffer;

    /// <summary>Wraps a rented buffer holding <paramref name="length"/> bytes of JSON.</summary>
    public OutgoingFrame(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    /// <summary>Number of bytes of the frame.</summary>
    public int Length { get; }

    /// <summary>The frame's UTF-8 JSON.</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>Returns the buffer to the pool; the frame must not be used afterwards.</summary>
    public void Release() => ArrayPool<byte>.Shared.Return(_buffer);
}
