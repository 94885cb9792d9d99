namespace GptWsDaemon.Quotas;

/// <summary>The UTC minute and day a moment falls in, and the seconds left in each (a refusal's retry_after).</summary>
internal static class Windows
{
    public static long Minute(DateTimeOffset now) => now.ToUnixTimeSeconds() / 60;

    public static long Day(DateTimeOffset now) => now.ToUnixTimeSeconds() / 86400;

    public static int SecondsLeftInMinute(DateTimeOffset now) => (int)(60 - (now.ToUnixTimeSeconds() % 60));

    public static int SecondsLeftInDay(DateTimeOffset now) => (int)(86400 - (now.ToUnixTimeSeconds() % 86400));
}
