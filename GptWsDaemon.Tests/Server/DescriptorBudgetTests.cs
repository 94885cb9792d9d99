using GptWsDaemon.Config;
using GptWsDaemon.Server;

namespace GptWsDaemon.Tests.Server;

/// <summary><see cref="DescriptorBudget"/>: the caps fitted to the descriptors really left.</summary>
[Category("unit")]
[TestFixture]
public sealed class DescriptorBudgetTests
{
    [Test]
    public void Compute_RoomyLimit_KeepsTheConfiguredCaps()
    {
        var fit = DescriptorBudget.Compute(new DaemonSettings(), 65536, 100);
        Assert.Multiple(() =>
        {
            Assert.That(fit.MaxConnections, Is.EqualTo(10000));
            Assert.That(fit.MaxStreams, Is.EqualTo(2000));
            Assert.That(fit.Warning, Is.Null);
        });
    }

    [TestCase(256, 71)]
    [TestCase(1024, 180)]
    [TestCase(4096, 100)]
    public void Compute_TightLimit_LowersCapsToFitWithAWarning(long limit, int open)
    {
        var fit = DescriptorBudget.Compute(new DaemonSettings(), limit, open);
        var needed = open + fit.MaxConnections + (2 * fit.MaxStreams) + DescriptorBudget.Reserve + DescriptorBudget.HttpSlack;
        Assert.Multiple(() =>
        {
            Assert.That(needed, Is.LessThanOrEqualTo(limit), "connections + two per stream + reserve fit in the limit");
            Assert.That(fit.MaxConnections, Is.GreaterThan(0).And.LessThan(10000));
            Assert.That(fit.MaxStreams, Is.GreaterThan(0).And.LessThan(2000));
            Assert.That(fit.Warning, Does.Contain("lowered to").And.Contain("ulimit -n"));
        });
    }

    [Test]
    public void Compute_UnknownLimit_LeavesCaps()
    {
        var fit = DescriptorBudget.Compute(new DaemonSettings { MaxConnections = 7 }, null, 0);
        Assert.That(fit.MaxConnections, Is.EqualTo(7));
    }

    [Test]
    public void ReadProcess_OnLinux_ReadsThisProcess()
    {
        var (limit, open) = DescriptorBudget.ReadProcess();
        Assert.Multiple(() =>
        {
            Assert.That(limit, Is.GreaterThan(0));
            Assert.That(open, Is.GreaterThan(2));
        });
    }
}
