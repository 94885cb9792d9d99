using System.Collections.Frozen;

namespace GptWsDaemon.Text;

/// <summary>Word lists behind the English period rules; lookups take spans so the hot path allocates nothing.</summary>
internal static class Abbreviations
{
    // Titles and similar words that always precede something: a period after them never ends a sentence.
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _titles = Lookup(StringComparer.OrdinalIgnoreCase,
        "mr", "mrs", "ms", "mx", "dr", "prof", "st", "mt", "rev", "gen", "col", "capt", "lt", "sgt", "cpl", "maj", "adm",
        "cmdr", "gov", "sen", "rep", "hon", "messrs", "mme", "mlle", "supt", "det", "insp", "vs", "e.g", "i.e", "cf", "viz");

    // Abbreviations that precede a number ("p. 55", "No. 5", "N°. 1026").
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _numberAbbreviations = Lookup(StringComparer.OrdinalIgnoreCase,
        "p", "pp", "no", "nos", "nr", "n°", "nº", "№", "art", "vol", "vols", "fig", "figs", "ch", "chap", "sec", "eq", "tel",
        "ext", "approx", "ca", "op", "pg", "para", "ref", "ex");

    // Capitalised words that usually open a sentence: after "U.S." they mean the abbreviation also ended it.
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _sentenceStarters = Lookup(StringComparer.Ordinal,
        "A", "An", "The", "This", "That", "These", "Those", "It", "Its", "He", "She", "We", "They", "I", "You", "His", "Her",
        "Our", "Their", "My", "Your", "There", "Here", "What", "When", "Where", "Which", "Who", "Why", "How", "However", "In",
        "On", "At", "For", "But", "And", "So", "If", "As", "After", "Before", "Since", "Although", "Though", "While", "Then",
        "Thus", "Also", "Now", "Today", "Did", "Do", "Does", "Is", "Are", "Was", "Were", "Will", "Would", "Can", "Could",
        "Should", "Have", "Has", "Had", "Being", "Many", "Most", "More", "Some", "All", "Each", "Every", "Yes", "Please",
        "Let", "Meanwhile", "Still", "Yet", "Overall", "Finally", "Next", "Another", "One", "Both");

    /// <summary>True for a title or a word such as "vs"/"e.g": a period after it never ends a sentence.</summary>
    public static bool IsTitle(ReadOnlySpan<char> word) => _titles.Contains(word);

    /// <summary>True for an abbreviation that usually precedes a number.</summary>
    public static bool IsNumberAbbreviation(ReadOnlySpan<char> word) => _numberAbbreviations.Contains(word);

    /// <summary>True for a capitalised word that usually opens a sentence.</summary>
    public static bool IsSentenceStarter(ReadOnlySpan<char> word) => _sentenceStarters.Contains(word);

    /// <summary>True for "a.m"/"p.m" in either case (the final period excluded).</summary>
    public static bool IsTime(ReadOnlySpan<char> word) =>
        word.Equals("a.m", StringComparison.OrdinalIgnoreCase) || word.Equals("p.m", StringComparison.OrdinalIgnoreCase);

    /// <summary>True for letters separated by periods, each part one or two letters ("U.S", "E.U", "Ph.D").</summary>
    public static bool IsDottedAcronym(ReadOnlySpan<char> word)
    {
        var parts = 0;
        var partLength = 0;
        foreach (var c in word)
        {
            if (c == '.')
            {
                if (partLength is 0 or > 2)
                {
                    return false;
                }

                parts++;
                partLength = 0;
            }
            else if (char.IsLetter(c))
            {
                partLength++;
            }
            else
            {
                return false;
            }
        }

        return partLength is > 0 and <= 2 && parts >= 1;
    }

    private static FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> Lookup(StringComparer comparer, params string[] words) =>
        words.ToFrozenSet(comparer).GetAlternateLookup<ReadOnlySpan<char>>();
}
