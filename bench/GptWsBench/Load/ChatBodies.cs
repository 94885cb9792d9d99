using System.Text;

namespace GptWsBench.Load;

/// <summary>The request bodies; the user message carries the stream id (<c>bench#17#</c>) for the fake upstream.</summary>
public static class ChatBodies
{
    /// <summary>Text appended to every user message (<c>--prompt-bytes</c>); plain ASCII, so bytes = characters.</summary>
    public static string Padding { get; private set; } = string.Empty;

    /// <summary>Makes every user message <paramref name="bytes"/> longer.</summary>
    public static void Pad(int bytes) => Padding = bytes <= 0 ? string.Empty : string.Concat(Enumerable.Repeat("lorem ipsum ", (bytes / 12) + 1))[..bytes];

    /// <summary>An OpenAI chat request, as the daemon itself would send it (stream + include_usage).</summary>
    public static byte[] OpenAi(int id) => Encoding.UTF8.GetBytes(
        $"{{\"model\":\"gpt-3.5-turbo\",\"messages\":[{{\"role\":\"user\",\"content\":\"bench#{id}# hi{Padding}\"}}],\"stream\":true,\"stream_options\":{{\"include_usage\":true}}}}");

    /// <summary>A GptWsDaemon request frame; <paramref name="extraData"/> (JSON members) is added to its data.</summary>
    public static byte[] Daemon(int id, bool originStream, string? segment = null, string extraData = "") => Encoding.UTF8.GetBytes(
        $"{{\"seq\":\"s{id}\",\"data\":{{\"messages\":[{{\"role\":\"user\",\"content\":\"bench#{id}# hi{Padding}\"}}],\"model\":\"gpt-3.5-turbo\",\"origin_stream\":{(originStream ? "true" : "false")}{(segment is null ? string.Empty : $",\"segment\":\"{segment}\"")}{(extraData.Length == 0 ? string.Empty : "," + extraData)}}}}}");
}
