namespace GptWsDaemon.Upstream.Providers;

/// <summary>
/// One provider key. Its <see cref="Id"/> (<c>…abcd</c>: the last four characters) is what logs, frames, metrics and
/// /healthz show; the whole <see cref="Value"/> goes only into the upstream request's header.
/// </summary>
public sealed class ApiKey
{
    /// <summary>Creates the key; <paramref name="id"/> is its masked id.</summary>
    public ApiKey(string value, string id)
    {
        Value = value;
        Id = id;
        Bearer = "Bearer " + value;
    }

    /// <summary>The <c>Authorization</c> value of OpenAI-style APIs, made once, not per request.</summary>
    public string Bearer { get; }

    /// <summary>The secret.</summary>
    public string Value { get; }

    /// <summary>The masked id, <c>…abcd</c> (with <c>#n</c> when two keys of a provider end alike).</summary>
    public string Id { get; }

    /// <summary>The masked id, never the key: a key formatted into a log line by mistake stays secret.</summary>
    public override string ToString() => Id;

    /// <summary>The masked ids of <paramref name="values"/>: the last four characters (two of a key shorter than 12), unique within the list.</summary>
    public static ApiKey[] Mask(IReadOnlyList<string> values)
    {
        var keys = new ApiKey[values.Count];
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < values.Count; i++)
        {
            var v = values[i];
            var id = "…" + v[^Math.Min(v.Length >= 12 ? 4 : 2, v.Length)..];
            seen[id] = seen.TryGetValue(id, out var n) ? n + 1 : 1;
            keys[i] = new ApiKey(v, seen[id] == 1 ? id : $"{id}#{seen[id]}");
        }

        return keys;
    }
}
