namespace GptWsDaemon.Text;

/// <summary>How finely <see cref="SentenceSegmenter"/> cuts text (protocol.md §4 <c>segment</c>).</summary>
public enum SegmentMode
{
    /// <summary>Cut at sentence ends and at clause marks (，、；： always, <c>,;:</c> before a space or CJK text), like the original's 短句.</summary>
    Clause,

    /// <summary>Cut only at sentence ends.</summary>
    Sentence,

    /// <summary>
    /// For speech engines (protocol.md §5.4): the first piece at the first clause or sentence end with
    /// <see cref="TtsLimits.FirstMinChars"/>, then whole sentences merged up to <see cref="TtsLimits.MinChars"/>, a long
    /// one cut at its last clause mark (else a space) past <see cref="TtsLimits.MaxChars"/>.
    /// </summary>
    Tts,
}
