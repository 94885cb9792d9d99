namespace GptWsDaemon.Text;

/// <summary>The segment's list marker ("1.", "-", "a)") as far as the scanner has read it: a period that is a list number's is no sentence end.</summary>
internal interface IListMarkerProbe
{
    /// <summary>Reads the segment's marker if not read yet; <see cref="ScanVerdict.NeedMore"/> while the text cannot tell.</summary>
    ScanVerdict EnsureMarker(ReadOnlySpan<char> text, bool isFinal);

    /// <summary>Index of the marker's period, or -1 when the segment has none (or no period in it).</summary>
    int MarkerDotIndex { get; }
}
