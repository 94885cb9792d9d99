namespace GptWsDaemon.Tests.Support;

/// <summary>The checkout the tests run from: the directory holding GptWsDaemon.sln above the test assembly.</summary>
public static class RepoRoot
{
    /// <summary>The repository root's full path.</summary>
    public static string Path { get; } = Find();

    /// <summary>A path inside the repository.</summary>
    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "GptWsDaemon.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no GptWsDaemon.sln above {AppContext.BaseDirectory}");
    }
}
