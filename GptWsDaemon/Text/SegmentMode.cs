namespace GptWsDaemon.Text;

/// <summary>How finely <see cref="SentenceSegmenter"/> cuts text (protocol.md §4 <c>segment</c>).</summary>
public enum SegmentMode
{
    /// <summary>Cut at sentence ends and at clause marks (，、；： always, <c>,;:</c> before a space or CJK text), like the original's 短句.</summary>
    Clause,

    /// <summary>Cut only at sentence ends.</summary>
    Sentence,
}
