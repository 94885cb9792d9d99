using GptWsDaemon.Server.Engines;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using GptWsDaemon.Protocol;
using GptWsDaemon.Tests.Support;
using GptWsDaemon.Upstream;

namespace GptWsDaemon.Tests.Server;

/// <summary>Thousands of random and mutated frames at one connection: no crash, no drop, every reply well-formed.</summary>
[Category("loopback")]
[TestFixtureSource(typeof(EngineTests), nameof(EngineTests.Engines))]
public sealed class FuzzTests(EngineKind engine) : EngineTests(engine)
{
    private static readonly string[] Keys = ["seq", "data", "action", "query", "messages", "model", "origin_stream", "segment", "openai_parameter", "temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty", "best_of", "stop", "role", "content"];

    private static readonly string[] Valid =
    [
        "{\"seq\":\"v\",\"data\":{\"query\":\"杭州\",\"model\":\"text-davinci-003\"}}",
        "{\"seq\":\"w\",\"data\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi 🌸\"}],\"origin_stream\":false,\"openai_parameter\":false,\"max_tokens\":3}}",
        "{\"seq\":\"x\",\"action\":\"cancel\"}",
        "{\"action\":\"ping\"}",
    ];

    [TestCase(1), TestCase(2), TestCase(3)]
    [CancelAfter(60000)]
    public async Task RandomAndMutatedFrames_ConnectionSurvives_NormalRequestStillStreams(int seed, CancellationToken ct)
    {
        await using var daemon = await StartDemoDaemonAsync(s => s with { DemoTokenDelay = TimeSpan.Zero, MaxMessageBytes = 2048 });
        using var client = await daemon.ConnectAsync(ct);
        var replies = new List<JsonElement>();
        var reader = ReadUntilFinalAsync(client, replies, ct);
        var random = new Random(seed);

        const int Frames = 2000;
        for (var i = 0; i < Frames; i++)
        {
            switch (random.Next(5))
            {
                case 0:
                    var bytes = new byte[random.Next(0, 64)];
                    random.NextBytes(bytes);
                    await client.Socket.SendAsync(bytes, WebSocketMessageType.Binary, true, ct);
                    break;
                case 1:
                    await client.SendAsync(RandomJson(random, 0), ct);
                    break;
                case 2:
                    await client.SendAsync(Mutate(random, Valid[random.Next(Valid.Length)]).Replace("\"v\"", $"\"v{i}\"").Replace("\"w\"", $"\"w{i}\""), ct);
                    break;
                case 3:
                    await client.SendAsync(new string('{', random.Next(1, 3000)), ct);
                    break;
                default:
                    await client.SendAsync(RandomText(random), ct);
                    break;
            }
        }

        // Once the pong is back every flood frame was handled; its streams then end (the demo model is instant here),
        // so the last request has room.
        await client.SendAsync(new { seq = "flood-end", action = "ping" }, ct);
        await ConnectionTests.WaitUntilAsync(() => IsPongSeen(replies) && daemon.Server.Streams == 0, ct);
        await client.SendAsync(new { seq = "final", data = new { query = "最后一个问题" } }, ct);
        await reader;

        var expected = DemoUpstream.AnswerFor(new ChatRequest { Seq = RequestSeq.FromString("final"), Model = "m", UpstreamModel = "m", Messages = [new ChatMessage("user", "最后一个问题")] });
        var final = replies.Where(r => r.TryGetProperty("seq", out var s) && s.ValueKind == JsonValueKind.String && s.GetString() == "final").ToList();
        TestContext.Out.WriteLine($"{replies.Count} replies; last: {final[^1].GetRawText()}");
        Assert.Multiple(() =>
        {
            Assert.That(string.Concat(final.Select(f => f.GetProperty("data").GetProperty("contents").GetString())), Is.EqualTo(expected));
            Assert.That(final[^1].GetProperty("data").GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
            Assert.That(replies.Count(r => r.GetProperty("code").GetInt32() != 0), Is.GreaterThan(Frames / 2), "bad frames each got an error frame");
            Assert.That(replies.All(r => r.TryGetProperty("code", out _) && r.TryGetProperty("msg", out _)), Is.True);
            Assert.That(client.Socket.State, Is.EqualTo(WebSocketState.Open));
            Assert.That(daemon.Server.Connections, Is.EqualTo(1));
        });
    }

    private static bool IsPongSeen(List<JsonElement> replies)
    {
        lock (replies)
        {
            return replies.Exists(r => r.GetProperty("msg").GetString() == "pong" && r.TryGetProperty("seq", out var s) && s.ValueKind == JsonValueKind.String && s.GetString() == "flood-end");
        }
    }

    private static async Task ReadUntilFinalAsync(WsTestClient client, List<JsonElement> replies, CancellationToken ct)
    {
        while (await client.ReceiveAsync(ct) is { } frame)
        {
            lock (replies)
            {
                replies.Add(frame);
            }

            if (frame.TryGetProperty("seq", out var s) && s.ValueKind == JsonValueKind.String && s.GetString() == "final"
                && frame.GetProperty("data").GetProperty("finish_reason").ValueKind != JsonValueKind.Null)
            {
                return;
            }
        }

        Assert.Fail("the daemon closed the connection");
    }

    private static string Mutate(Random random, string text)
    {
        var sb = new StringBuilder(text);
        for (var n = random.Next(1, 4); n > 0 && sb.Length > 0; n--)
        {
            var at = random.Next(sb.Length);
            switch (random.Next(4))
            {
                case 0:
                    sb.Remove(at, 1);
                    break;
                case 1:
                    sb.Insert(at, "{}[]\",:0-e.\\字🌸 "[random.Next(16)]);
                    break;
                case 2:
                    sb.Insert(at, sb.ToString(at, Math.Min(8, sb.Length - at)));
                    break;
                default:
                    sb[at] = (char)random.Next(32, 127);
                    break;
            }
        }

        // Never leave half a surrogate pair: the text frame must stay valid UTF-8.
        var s = sb.ToString();
        return new string([.. s.Where((c, i) => !char.IsSurrogate(c) || (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) || (char.IsLowSurrogate(c) && i > 0 && char.IsHighSurrogate(s[i - 1])))]);
    }

    private static string RandomText(Random random)
    {
        var chars = new char[random.Next(0, 40)];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = random.Next(3) == 0 ? (char)random.Next(0x4e00, 0x9fa5) : (char)random.Next(1, 127);
        }

        return new string(chars);
    }

    private static string RandomJson(Random random, int depth)
    {
        switch (depth > 4 ? random.Next(5) : random.Next(8))
        {
            case 0: return random.Next(2) == 0 ? "null" : "true";
            case 1: return random.Next(4) == 0 ? "1e400" : (random.NextDouble() * 10 - 5).ToString(System.Globalization.CultureInfo.InvariantCulture);
            case 2: return JsonSerializer.Serialize(RandomText(random));
            case 3: return "\"\"";
            case 4: return "-99999999999999999999999";
            case 5:
                return "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => RandomJson(random, depth + 1))) + "]";
            default:
                return "{" + string.Join(",", Enumerable.Range(0, random.Next(5)).Select(_ => $"\"{Keys[random.Next(Keys.Length)]}\":{RandomJson(random, depth + 1)}")) + "}";
        }
    }
}
