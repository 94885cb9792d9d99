namespace GptWsDaemon.Tests.Browser;

/// <summary>Where the browser tests save their screenshots: <c>artifacts/screenshots/</c> at the repository root.</summary>
public static class Screenshots
{
    /// <summary>Set to 1 to also copy the README screenshot to <c>docs/test-page.png</c>.</summary>
    public const string UpdateDocsVariable = "GPTWS_UPDATE_DOCS_SCREENSHOT";

    public static string Folder
    {
        get
        {
            var folder = Path.Combine(Support.RepoRoot.Path, "artifacts", "screenshots");
            Directory.CreateDirectory(folder);
            return folder;
        }
    }

    /// <summary>Full path for <paramref name="name"/>.png; printed to the test output and attached to the result.</summary>
    public static string PathFor(string name) => Path.Combine(Folder, name + ".png");

    public static void Announce(string path)
    {
        TestContext.Out.WriteLine($"screenshot: {path}");
        TestContext.AddTestAttachment(path);
    }

    /// <summary>Copies <paramref name="path"/> to docs/test-page.png when <see cref="UpdateDocsVariable"/> is 1.</summary>
    public static void MaybeUpdateDocs(string path)
    {
        if (Environment.GetEnvironmentVariable(UpdateDocsVariable) != "1")
        {
            return;
        }

        var docs = Path.Combine(Support.RepoRoot.Path, "docs", "test-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(docs)!);
        File.Copy(path, docs, overwrite: true);
        TestContext.Out.WriteLine($"README screenshot updated: {docs}");
    }
}
