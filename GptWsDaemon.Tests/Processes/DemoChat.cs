using System.Text;
using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream;

// Not "GptWsDaemon.Tests.Process": a namespace of that name would shadow System.Diagnostics.Process in every
// GptWsDaemon.Tests.* file that uses it by its short name.
namespace GptWsDaemon.Tests.Processes;

/// <summary>Request frames for the demo model and the exact answer it must stream back.</summary>
internal static class DemoChat
{
    private static readonly RequestParser Parser = new(new DaemonSettings());

    /// <summary>A chat request frame with one user message.</summary>
    public static string Frame(string seq, string question) =>
        JsonSerializer.Serialize(new { seq, data = new { messages = new[] { new { role = "user", content = question } }, model = "gpt-3.5-turbo" } });

    /// <summary>The whole text the demo model answers to <paramref name="question"/>, computed by the daemon's own code.</summary>
    public static string Answer(string question)
    {
        var command = Parser.Parse(Encoding.UTF8.GetBytes(Frame("expected", question)), 0);
        return DemoUpstream.AnswerFor(((ClientCommand.Chat)command).Request);
    }
}
