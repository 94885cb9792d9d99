using System.Security.Cryptography;
using System.Text;
using GptWsDaemon.Server.Engines;

namespace GptWsDaemon.Server;

/// <summary>Client authentication and origin checks for handshakes and /metrics (README "Security").</summary>
public sealed class AccessGuard
{
    /// <summary>The subprotocol the daemon speaks and selects when offered.</summary>
    public const string SubProtocol = "gptws";

    /// <summary>Prefix of the offered subprotocol entry that carries an access token (<c>bearer.TOKEN</c>, never selected).</summary>
    public const string TokenProtocolPrefix = "bearer.";

    private readonly byte[][] _tokenHashes;
    private readonly HashSet<string> _origins;
    private readonly bool _anyOrigin;

    /// <summary>Creates the guard; an <paramref name="allowedOrigins"/> entry <c>*</c> allows every origin.</summary>
    public AccessGuard(IReadOnlyList<string> tokens, IReadOnlyList<string> allowedOrigins)
    {
        _tokenHashes = [.. tokens.Select(t => SHA256.HashData(Encoding.UTF8.GetBytes(t)))];
        _anyOrigin = allowedOrigins.Contains("*");
        _origins = new HashSet<string>(allowedOrigins.Where(o => o != "*"), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>True when origins are limited only by the safe default (same page or loopback).</summary>
    public bool DefaultOrigins => !_anyOrigin && _origins.Count == 0;

    /// <summary>
    /// True when no token is configured or the request carries a valid one: <c>Authorization: Bearer T</c>, <c>?token=T</c>,
    /// or an offered subprotocol <c>bearer.T</c> (browsers can set neither header; a query ends up in proxy logs).
    /// Compared in constant time against every configured token (hashes, so lengths leak nothing either).
    /// </summary>
    public bool IsAuthorized(IHttpExchange exchange)
    {
        if (_tokenHashes.Length == 0)
        {
            return true;
        }

        var candidate = BearerToken(exchange.Header("Authorization")) ?? exchange.QueryValue("token") ?? ProtocolToken(exchange.Header("Sec-WebSocket-Protocol"));
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

    /// <summary>
    /// No Origin (not a browser): allowed. With <c>allowed_origins</c> set: listed ones (or any, for <c>*</c>). Unset: only
    /// the daemon's own page (the origin names the host and port the request was sent to, directly or through a proxy
    /// that sets X-Forwarded-Host) and loopback pages, so a web page the operator visits cannot spend the key.
    /// </summary>
    public bool IsOriginAllowed(string? origin, string? host, string? forwardedHost)
    {
        if (string.IsNullOrEmpty(origin) || _anyOrigin)
        {
            return true;
        }

        if (_origins.Count > 0)
        {
            return _origins.Contains(origin.TrimEnd('/'));
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var page) || page.Scheme is not ("http" or "https"))
        {
            return false; // "null" (file://, sandboxed frames) and anything unparsable
        }

        return page.IsLoopback || SameAuthority(page, host) || SameAuthority(page, forwardedHost);
    }

    /// <summary>The subprotocol to select from the offer: <see cref="SubProtocol"/> when offered, else none (no header).</summary>
    public static string? SelectSubProtocol(string? offered)
    {
        foreach (var entry in Entries(offered))
        {
            if (entry == SubProtocol)
            {
                return SubProtocol;
            }
        }

        return null;
    }

    private static bool SameAuthority(Uri page, string? host)
    {
        if (string.IsNullOrEmpty(host))
        {
            return false;
        }

        // The page's scheme gives the default port when the Host header names none.
        var first = host.Split(',')[0].Trim();
        return Uri.TryCreate($"{page.Scheme}://{first}/", UriKind.Absolute, out var target)
            && string.Equals(target.IdnHost, page.IdnHost, StringComparison.OrdinalIgnoreCase)
            && target.Port == page.Port;
    }

    private static string? ProtocolToken(string? offered)
    {
        foreach (var entry in Entries(offered))
        {
            if (entry.StartsWith(TokenProtocolPrefix, StringComparison.Ordinal) && entry.Length > TokenProtocolPrefix.Length)
            {
                return entry[TokenProtocolPrefix.Length..];
            }
        }

        return null;
    }

    private static string[] Entries(string? offered) =>
        (offered ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static string? BearerToken(string? header)
    {
        const string Prefix = "Bearer ";
        return header is not null && header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? header[Prefix.Length..].Trim() : null;
    }
}
