using Microsoft.Playwright;

namespace GptWsDaemon.Tests.Browser;

/// <summary>
/// Debian's headless Chromium driven by Playwright's bundled driver: never a downloaded browser. One persistent context on
/// a fresh, empty user-data-dir that is deleted on dispose.
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    /// <summary>Where Debian's package (installed by .ci/run) puts Chromium; GPTWS_CHROMIUM overrides it.</summary>
    public const string DefaultChromium = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    private readonly IPlaywright _playwright;
    private readonly string _userDataDir;

    private BrowserSession(IPlaywright playwright, IBrowserContext context, string userDataDir)
    {
        _playwright = playwright;
        Context = context;
        _userDataDir = userDataDir;
    }

    public IBrowserContext Context { get; }

    public static string ChromiumPath => Environment.GetEnvironmentVariable("GPTWS_CHROMIUM") is { Length: > 0 } path ? path : DefaultChromium;

    public static async Task<BrowserSession> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            Assert.Fail($"Chromium not found at {ChromiumPath}: install Debian's chromium package (.ci/run does) or set GPTWS_CHROMIUM");
        }

        // Belt and braces: this process never fetches a browser, and the host check is for Playwright's own builds.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_VALIDATE_HOST_REQUIREMENTS", "1");
        var userDataDir = Directory.CreateTempSubdirectory("gptws-chromium-").FullName;
        var playwright = await Playwright.CreateAsync();
        try
        {
            var context = await playwright.Chromium.LaunchPersistentContextAsync(userDataDir, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ChromiumArgs,
                Timeout = 120_000,
                ViewportSize = new ViewportSize { Width = 1280, Height = 860 },
                Locale = "en-US",
            });
            context.SetDefaultTimeout(45_000);
            Assertions.SetDefaultExpectTimeout(45_000);
            return new BrowserSession(playwright, context, userDataDir);
        }
        catch
        {
            playwright.Dispose();
            TryDelete(userDataDir);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Context.CloseAsync();
        }
        finally
        {
            _playwright.Dispose();
            TryDelete(_userDataDir);
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still be writing on its way out; the temp folder is cleaned eventually.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
