using System.Security.Cryptography;

namespace GptWsDaemon.Streams;

/// <summary>Resumable stream ids (protocol.md §4.5): 128 random bits, base64url without padding (22 characters).</summary>
public static class StreamIds
{
    /// <summary>A new id.</summary>
    public static string New()
    {
        Span<byte> bits = stackalloc byte[16];
        RandomNumberGenerator.Fill(bits);
        return Convert.ToBase64String(bits).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>True for text that may be an id: 1–64 of A–Z, a–z, 0–9, - and _ (never a key of someone else's shape).</summary>
    public static bool IsValid(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_');
}
