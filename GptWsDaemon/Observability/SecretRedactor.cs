using System.Text.RegularExpressions;

namespace GptWsDaemon.Observability;

/// <summary>Removes the API key, access tokens and anything shaped like a provider key from text bound for a client or a log.</summary>
public sealed partial class SecretRedactor
{
    private readonly string[] _secrets;

    /// <summary>Creates a redactor for these exact secrets (empty ones are ignored).</summary>
    public SecretRedactor(IEnumerable<string?> secrets) =>
        _secrets = secrets.Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).OrderByDescending(s => s.Length).ToArray();

    /// <summary>Returns <paramref name="text"/> with every secret replaced by <c>***</c>.</summary>
    public string Redact(string text)
    {
        foreach (var s in _secrets)
        {
            text = text.Replace(s, "***", StringComparison.Ordinal);
        }

        // Providers echo part of a wrong key ("Incorrect API key provided: sk-abc***xyz"): hide those too.
        return KeyShape().Replace(text, "sk-***");
    }

    [GeneratedRegex(@"\bsk-[A-Za-z0-9_\-\*\.]{4,}")]
    private static partial Regex KeyShape();
}
