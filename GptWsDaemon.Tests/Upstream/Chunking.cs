namespace GptWsDaemon.Tests.Upstream;

/// <summary>How a test stream hands its bytes to the reader.</summary>
public enum Chunking
{
    /// <summary>Everything in one read.</summary>
    Whole,

    /// <summary>One byte per read: every CRLF pair, BOM and UTF-8 sequence is cut.</summary>
    OneByte,

    /// <summary>Seeded random read sizes.</summary>
    Random,
}
