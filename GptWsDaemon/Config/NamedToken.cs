namespace GptWsDaemon.Config;

/// <summary>
/// An access token and the client it names (protocol.md §3.3): <c>alice:tokA</c> in a list, <c>alice tokA</c> in
/// <c>server.access_tokens_file</c>; a bare token is named <c>t1</c>, <c>t2</c>, … by its place in the list. The name,
/// never the token, is what logs, metrics and /usage show.
/// </summary>
/// <param name="Name">The client's name (1–40 of a-z, 0-9, - and _).</param>
/// <param name="Token">The secret.</param>
public sealed record NamedToken(string Name, string Token)
{
    /// <summary>Reads list entries: <c>name:token</c> when the part before the first colon is a name, else a bare token.</summary>
    /// <exception cref="ConfigException">A token shorter than 8 characters, with white space, or a name used twice.</exception>
    public static List<NamedToken> FromList(IEnumerable<string> entries, string source)
    {
        var list = new List<NamedToken>();
        var i = 0;
        foreach (var entry in entries)
        {
            i++;
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            list.Add(colon > 0 && IsName(entry[..colon]) ? new(entry[..colon], entry[(colon + 1)..]) : new($"t{i}", entry));
        }

        return Checked(list, source);
    }

    /// <summary>Reads a tokens file: one <c>name token</c> per line; blank lines and <c># comments</c> skipped.</summary>
    public static List<NamedToken> FromFile(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ConfigException($"server.access_tokens_file: cannot read {path}: {e.Message}", e);
        }

        var list = new List<NamedToken>();
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !IsName(parts[0]))
            {
                throw new ConfigException($"server.access_tokens_file: {path} line {n + 1}: must be 'name token' (name: 1 to 40 of a-z, 0-9, - and _)");
            }

            list.Add(new(parts[0], parts[1]));
        }

        return Checked(list, $"server.access_tokens_file {path}");
    }

    /// <summary>Whether <paramref name="name"/> is a client name.</summary>
    public static bool IsName(string name) =>
        name.Length is > 0 and <= 40 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_');

    /// <summary>Whether <paramref name="token"/> may be an access or admin token: 8 characters or more, no white space.</summary>
    public static bool IsValidToken(string token) => token.Length >= 8 && !token.Any(char.IsWhiteSpace);

    /// <summary>The name, and nothing of the token.</summary>
    public override string ToString() => Name;

    private static List<NamedToken> Checked(List<NamedToken> list, string source)
    {
        foreach (var t in list)
        {
            if (!IsValidToken(t.Token))
            {
                throw new ConfigException($"{source}: access token of {t.Name}: each must be at least 8 characters with no white space");
            }
        }

        foreach (var dup in list.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Take(1))
        {
            throw new ConfigException($"{source}: client name {dup.Key} is given to more than one token");
        }

        return list;
    }
}
