using System.Diagnostics;
using GptWsDaemon.Tests.Support;

namespace GptWsDaemon.Tests.Contract;

/// <summary>docs/asyncapi.yaml, with the schemas it references, validated by the AsyncAPI CLI (npm @asyncapi/cli, pinned in docs/package.json).</summary>
[NonParallelizable]
[Category("process")]
[TestFixture]
public sealed class AsyncApiCliTests
{
    [Test, CancelAfter(120000)]
    public async Task AsyncApiDocument_AsyncApiCli_Valid(CancellationToken ct)
    {
        var cli = RepoRoot.Combine("docs", "node_modules", ".bin", "asyncapi");
        Assert.That(File.Exists(cli), Is.True, $"AsyncAPI CLI missing: run `npm install --prefix docs` (.ci/run does): {cli}");
        var settings = Path.Combine(Path.GetTempPath(), "gptws-asyncapi-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(settings, """{"analyticsEnabled":"false","infoMessageShown":"true","userID":"gptws-tests"}""", ct);
        try
        {
            var start = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot.Combine("docs") };
            start.ArgumentList.Add("validate");
            start.ArgumentList.Add("asyncapi.yaml");
            // No traffic leaves the machine: the CLI's usage metrics are off (its own settings file, and CI=true).
            start.Environment["ASYNCAPI_METRICS_CONFIG_PATH"] = settings;
            start.Environment["CI"] = "true";
            start.Environment["SUPPRESS_NO_CONFIG_WARNING"] = "1";
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            var output = await stdout + await stderr;

            Assert.Multiple(() =>
            {
                Assert.That(process.ExitCode, Is.Zero, output);
                Assert.That(output, Does.Contain("is valid"), output);
                Assert.That(output, Does.Not.Contain(" error ").And.Not.Contain(" warning "), output);
            });
        }
        finally
        {
            File.Delete(settings);
        }
    }
}
