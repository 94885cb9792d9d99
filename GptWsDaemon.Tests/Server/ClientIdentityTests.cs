using GptWsDaemon.Server;

namespace GptWsDaemon.Tests.Server;

/// <summary><see cref="ClientIdentity"/>: a client named by its address, X-Forwarded-For believed only from trusted proxies.</summary>
[Category("unit")]
[TestFixture]
public sealed class ClientIdentityTests
{
    [TestCase("127.0.0.1:5000", null, "", "127.0.0.1")]
    [TestCase("[::1]:5000", null, "", "::1")]
    [TestCase("[::ffff:10.0.0.9]:5000", null, "", "10.0.0.9")]
    [TestCase("10.0.0.2:5000", "203.0.113.7", "", "10.0.0.2")]
    [TestCase("10.0.0.2:5000", "203.0.113.7", "10.0.0.0/8", "203.0.113.7")]
    [TestCase("10.0.0.2:5000", "198.51.100.1, 203.0.113.7, 10.0.0.3", "10.0.0.0/8", "203.0.113.7")]
    [TestCase("10.0.0.2:5000", "forged, 203.0.113.7", "10.0.0.0/8", "203.0.113.7")]
    [TestCase("10.0.0.2:5000", "203.0.113.7, not-an-ip", "10.0.0.0/8", "10.0.0.2")]
    [TestCase("[2001:db8::5]:443", "2001:db8:1::9", "2001:db8::5", "2001:db8:1::9")]
    public void FromAddress_RightmostUntrustedHop(string remote, string? forwardedFor, string trusted, string expected)
    {
        var networks = ClientIdentity.Networks(trusted.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var client = ClientIdentity.FromAddress(remote, forwardedFor, networks);
        Assert.Multiple(() =>
        {
            Assert.That(client.Name, Is.EqualTo(expected));
            Assert.That(client.Named, Is.False);
            Assert.That(client.Label, Is.EqualTo("address"), "addresses never become metric labels");
        });
    }
}
