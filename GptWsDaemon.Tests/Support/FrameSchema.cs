using System.Text.Json;
using Json.Schema;

namespace GptWsDaemon.Tests.Support;

/// <summary>
/// The JSON Schemas of docs/schema/ (protocol.md §4, §5), loaded once and evaluated with JsonSchema.Net: every frame a
/// test client receives is checked against the daemon's schema (<see cref="WsTestClient"/>).
/// </summary>
public static class FrameSchema
{
    private static readonly Lazy<JsonSchema> Daemon = new(() => Load("daemon-frame.json"));
    private static readonly Lazy<JsonSchema> Client = new(() => Load("client-message.json"));

    /// <summary>Null when <paramref name="frame"/> is a valid daemon → client frame, else what is wrong with it.</summary>
    public static string? DaemonFrameProblem(JsonElement frame) => Problem(Daemon.Value, frame);

    /// <summary>Null when <paramref name="message"/> is a valid client → daemon message, else what is wrong with it.</summary>
    public static string? ClientMessageProblem(JsonElement message) => Problem(Client.Value, message);

    /// <summary>Fails the test when <paramref name="frame"/> does not follow docs/schema/daemon-frame.json.</summary>
    public static void AssertDaemonFrame(JsonElement frame)
    {
        if (DaemonFrameProblem(frame) is { } problem)
        {
            Assert.Fail($"frame breaks docs/schema/daemon-frame.json: {problem}\nframe: {frame.GetRawText()}");
        }
    }

    private static JsonSchema Load(string name) =>
        JsonSchema.FromText(File.ReadAllText(RepoRoot.Combine("docs", "schema", name)), new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    private static string? Problem(JsonSchema schema, JsonElement instance)
    {
        var result = schema.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (result.IsValid)
        {
            return null;
        }

        var errors = (result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Value}"))
            .Take(12);
        return string.Join("; ", errors);
    }
}
