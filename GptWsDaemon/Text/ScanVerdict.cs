namespace GptWsDaemon.Text;

/// <summary>What <see cref="BoundaryScanner"/> concluded about one position of the text.</summary>
internal enum ScanVerdict
{
    /// <summary>Nothing here can end a piece.</summary>
    NotCandidate,

    /// <summary>A candidate that turned out not to be a boundary; scanning resumes after it.</summary>
    NoBoundary,

    /// <summary>A piece certainly ends here.</summary>
    Boundary,

    /// <summary>Undecidable until more text arrives.</summary>
    NeedMore,
}
