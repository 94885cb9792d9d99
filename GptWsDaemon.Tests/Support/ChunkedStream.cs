namespace GptWsDaemon.Tests.Support;

/// <summary>A read-only stream over fixed bytes that hands out at most a chosen number of bytes per read, like a network socket.</summary>
public sealed class ChunkedStream : Stream
{
    private readonly byte[] _data;
    private readonly Func<int> _nextChunk;
    private int _position;

    /// <summary>Serves <paramref name="data"/>; each read returns at most <paramref name="nextChunk"/>() bytes (at least 1).</summary>
    public ChunkedStream(byte[] data, Func<int> nextChunk)
    {
        _data = data;
        _nextChunk = nextChunk;
    }

    /// <summary>Number of reads served so far, end-of-stream reads included.</summary>
    public int Reads { get; private set; }

    /// <summary>Whole stream in one read.</summary>
    public static ChunkedStream Whole(byte[] data) => new(data, () => int.MaxValue);

    /// <summary>One byte per read.</summary>
    public static ChunkedStream OneByte(byte[] data) => new(data, () => 1);

    /// <summary>Reads of 1 to <paramref name="max"/> bytes, chosen by a seeded generator.</summary>
    public static ChunkedStream Random(byte[] data, int seed, int max = 17)
    {
        var random = new Random(seed);
        return new(data, () => random.Next(1, max + 1));
    }

    /// <summary>Reads of the given sizes in turn, then the rest in one read.</summary>
    public static ChunkedStream Pieces(byte[] data, params int[] sizes)
    {
        var i = 0;
        return new(data, () => i < sizes.Length ? sizes[i++] : int.MaxValue);
    }

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        Reads++;
        if (buffer.IsEmpty)
        {
            return 0; // a zero-byte read waits for data; it does not use up one of the chosen read sizes
        }

        var n = Math.Min(Math.Min(buffer.Length, Math.Max(1, _nextChunk())), _data.Length - _position);
        _data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
