namespace GptWsDaemon.Tests.Support;

/// <summary>How the generated SSE streams end their lines (WHATWG: "end-of-line = ( cr lf / cr / lf )").</summary>
public enum LineEnd
{
    /// <summary>"\n".</summary>
    Lf,

    /// <summary>"\r".</summary>
    Cr,

    /// <summary>"\r\n".</summary>
    CrLf,

    /// <summary>Each line picks one of the three at random.</summary>
    Mixed,
}
