using System.Net;

namespace GptWsDaemon.Server;

/// <summary>
/// Who a connection's requests are charged to (protocol.md §2.3 "Quotas"): the client its access token names, or — with
/// no tokens configured — its address; <c>X-Forwarded-For</c> counts only when the peer is one of
/// <c>server.trusted_proxies</c>, read from the right, past the trusted proxies, so a client cannot name itself.
/// </summary>
/// <param name="Name">The client's name, or its address.</param>
/// <param name="Named">True when a token named it (a configured name: a metric label of its own).</param>
public sealed record ClientIdentity(string Name, bool Named)
{
    /// <summary>The label of metrics: configured names only, every address client as <c>address</c>.</summary>
    public string Label => Named ? Name : "address";

    /// <summary>The client behind <paramref name="remote"/> (<c>ip:port</c>), through trusted proxies.</summary>
    public static ClientIdentity FromAddress(string? remote, string? forwardedFor, IReadOnlyList<IPNetwork> trusted)
    {
        var peer = Address(remote);
        if (peer is null)
        {
            return new ClientIdentity("unknown", false);
        }

        if (forwardedFor is not null && Trusted(peer, trusted))
        {
            var hops = forwardedFor.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            for (var i = hops.Length - 1; i >= 0; i--)
            {
                if (!IPAddress.TryParse(hops[i], out var hop))
                {
                    break; // a forged or garbled entry: the last good one stands
                }

                peer = hop;
                if (!Trusted(hop, trusted))
                {
                    break;
                }
            }
        }

        return new ClientIdentity(peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4().ToString() : peer.ToString(), false);
    }

    /// <summary>Parses server.trusted_proxies entries (an address is a /32 or /128 network).</summary>
    public static IReadOnlyList<IPNetwork> Networks(IEnumerable<string> entries) =>
        [.. entries.Select(e => IPNetwork.Parse(e.Contains('/', StringComparison.Ordinal) ? e : e + (e.Contains(':', StringComparison.Ordinal) ? "/128" : "/32")))];

    /// <summary>The name, for logs.</summary>
    public override string ToString() => Name;

    private static bool Trusted(IPAddress address, IReadOnlyList<IPNetwork> trusted)
    {
        var a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return trusted.Any(n => n.Contains(a));
    }

    private static IPAddress? Address(string? remote) =>
        remote is null ? null : IPEndPoint.TryParse(remote, out var endpoint) ? endpoint.Address : IPAddress.TryParse(remote, out var ip) ? ip : null;
}
