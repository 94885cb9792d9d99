using System.Collections.Specialized;
using System.Security.Cryptography;
using System.Text;

namespace GptWsDaemon.Server;

/// <summary>Client authentication and origin checks for handshakes and /metrics (SPEC §3).</summary>
public sealed class AccessGuard
{
    private readonly byte[][] _tokenHashes;
    private readonly HashSet<string> _origins;

    /// <summary>Creates the guard.</summary>
    public AccessGuard(IReadOnlyList<string> tokens, IReadOnlyList<string> allowedOrigins)
    {
        _tokenHashes = [.. tokens.Select(t => SHA256.HashData(Encoding.UTF8.GetBytes(t)))];
        _origins = new HashSet<string>(allowedOrigins, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// True when no token is configured or the request carries a valid one in <c>Authorization: Bearer</c> or <c>?token=</c>.
    /// Compared in constant time against every configured token (hashes, so lengths leak nothing either).
    /// </summary>
    public bool IsAuthorized(NameValueCollection headers, NameValueCollection query)
    {
        if (_tokenHashes.Length == 0)
        {
            return true;
        }

        var candidate = BearerToken(headers["Authorization"]) ?? query["token"];
        if (string.IsNullOrEmpty(candidate))
        {
            return false;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(candidate));
        var ok = false;
        foreach (var expected in _tokenHashes)
        {
            ok |= CryptographicOperations.FixedTimeEquals(hash, expected);
        }

        return ok;
    }

    /// <summary>True when no origin list is set, the request has no Origin (not a browser), or its Origin is listed.</summary>
    public bool IsOriginAllowed(string? origin) =>
        _origins.Count == 0 || string.IsNullOrEmpty(origin) || _origins.Contains(origin.TrimEnd('/'));

    private static string? BearerToken(string? header)
    {
        const string Prefix = "Bearer ";
        return header is not null && header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? header[Prefix.Length..].Trim() : null;
    }
}
