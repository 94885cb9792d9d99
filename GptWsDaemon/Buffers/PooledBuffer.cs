using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace GptWsDaemon.Buffers;

/// <summary>The one way the daemon grows a buffer rented from <see cref="ArrayPool{T}.Shared"/>: rent bigger, copy what is kept, return the old.</summary>
internal static class PooledBuffer
{
    /// <summary>
    /// Makes <paramref name="buffer"/> at least <paramref name="minimum"/> long (renting it when null), keeping its first
    /// <paramref name="keep"/> items. The pool may hand out more than asked for: callers that cap a size cap the part they use.
    /// </summary>
    public static void Grow<T>([NotNull] ref T[]? buffer, int keep, int minimum)
    {
        if (buffer is not null && buffer.Length >= minimum)
        {
            return;
        }

        var bigger = ArrayPool<T>.Shared.Rent(minimum);
        if (buffer is not null)
        {
            buffer.AsSpan(0, keep).CopyTo(bigger);
            ArrayPool<T>.Shared.Return(buffer);
        }

        buffer = bigger;
    }

    /// <summary>Returns <paramref name="buffer"/> to the pool (if any) and clears the reference.</summary>
    public static void Return<T>(ref T[]? buffer)
    {
        if (buffer is not null)
        {
            ArrayPool<T>.Shared.Return(buffer);
            buffer = null;
        }
    }
}
