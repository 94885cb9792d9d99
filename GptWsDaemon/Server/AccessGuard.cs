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

    private readonly HashSet<string> _origins;
    private readonly bool _anyOrigin;
    private readonly byte[][] _adminHashes;
    private volatile (byte[] Hash, string Name)[] _tokens; // swapped whole on a reload (SIGHUP)

    /// <summary>
    /// Creates the guard for named tokens; an <paramref name="allowedOrigins"/> entry <c>*</c> allows every origin;
    /// <paramref name="adminTokens"/> may read /usage.
    /// </summary>
    public AccessGuard(IReadOnlyList<Config.NamedToken> tokens, IReadOnlyList<string> allowedOrigins, IReadOnlyList<string>? adminTokens = null)
    {
        _tokens = Hash(tokens);
        _adminHashes = [.. (adminTokens ?? []).Select(t => SHA256.HashData(Encoding.UTF8.GetBytes(t)))];
        _anyOrigin = allowedOrigins.Contains("*");
        _origins = new HashSet<string>(allowedOrigins.Where(o => o != "*"), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Whether access tokens are configured (else clients are named by their address).</summary>
    public bool HasTokens => _tokens.Length > 0;

    /// <summary>The client names the tokens give, for /usage.</summary>
    public IEnumerable<string> Names => _tokens.Select(t => t.Name);

    /// <summary>Replaces the tokens (a reload): connections open keep the name they came with.</summary>
    public void Replace(IReadOnlyList<Config.NamedToken> tokens) => _tokens = Hash(tokens);

    /// <summary>The client a valid token names; null without one (or with no tokens configured).</summary>
    public string? ClientOf(IHttpExchange exchange)
    {
        var tokens = _tokens;
        var candidate = Candidate(exchange);
        if (tokens.Length == 0 || string.IsNullOrEmpty(candidate))
        {
            return null;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(candidate));
        string? name = null;
        foreach (var (expected, client) in tokens)
        {
            // Every token compared, in constant time: which one matched must not show in the timing either.
            if (CryptographicOperations.FixedTimeEquals(hash, expected))
            {
                name = client;
            }
        }

        return name;
    }

    /// <summary>Whether the request carries one of server.admin_tokens (none configured: nobody is admin).</summary>
    public bool IsAdmin(IHttpExchange exchange)
    {
        var candidate = Candidate(exchange);
        if (_adminHashes.Length == 0 || string.IsNullOrEmpty(candidate))
        {
            return false;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(candidate));
        var ok = false;
        foreach (var expected in _adminHashes)
        {
            ok |= CryptographicOperations.FixedTimeEquals(hash, expected);
        }

        return ok;
    }

    /// <summary>True when origins are limited only by the safe default (same page or loopback).</summary>
    public bool DefaultOrigins => !_anyOrigin && _origins.Count == 0;

    /// <summary>
    /// True when no token is configured or the request carries a valid one: <c>Authorization: Bearer T</c>, <c>?token=T</c>,
    /// or an offered subprotocol <c>bearer.T</c> (browsers can set neither header; a query ends up in proxy logs).
    /// Compared in constant time against every configured token (hashes, so lengths leak nothing either).
    /// </summary>
    public bool IsAuthorized(IHttpExchange exchange) => !HasTokens || ClientOf(exchange) is not null;

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

    private static string? Candidate(IHttpExchange exchange) =>
        BearerToken(exchange.Header("Authorization")) ?? exchange.QueryValue("token") ?? ProtocolToken(exchange.Header("Sec-WebSocket-Protocol"));

    private static (byte[] Hash, string Name)[] Hash(IReadOnlyList<Config.NamedToken> tokens) =>
        [.. tokens.Select(t => (SHA256.HashData(Encoding.UTF8.GetBytes(t.Token)), t.Name))];

    private static string[] Entries(string? offered) =>
        (offered ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static string? BearerToken(string? header)
    {
        const string Prefix = "Bearer ";
        return header is not null && header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? header[Prefix.Length..].Trim() : null;
    }
}
