namespace GptWsDaemon.Streams;

/// <summary>The <c>[resume]</c> section (protocol.md §4.5).</summary>
public sealed record ResumeSettings
{
    /// <summary>How long a stream nobody reads goes on before its upstream request is aborted (<c>hold_seconds</c>).</summary>
    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a finished stream's log stays readable (<c>keep_seconds</c>).</summary>
    public TimeSpan Keep { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Bytes one stream's memory log may hold (<c>max_log_bytes</c>); the oldest frames go first.</summary>
    public long MaxLogBytes { get; init; } = 1 << 20;

    /// <summary>Bytes every memory log together may hold (<c>max_total_bytes</c>).</summary>
    public long MaxTotalBytes { get; init; } = 256L << 20;

    /// <summary>Entries one Redis stream keeps (<c>max_log_frames</c>, XADD MAXLEN).</summary>
    public int MaxLogFrames { get; init; } = 20_000;

    /// <summary>With Redis unreachable: true, resumable streams keep their log in memory (logged); false, they are refused (<c>on_store_error</c>).</summary>
    public bool MemoryOnStoreError { get; init; }
}
