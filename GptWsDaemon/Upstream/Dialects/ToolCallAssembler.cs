using System.Text;
using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>
/// Puts a stream's tool calls together from their fragments (protocol.md §5.2 <c>tool_calls</c>): per <c>index</c>,
/// the id, type and name from the first fragment that has them and the arguments appended in order. A server that
/// numbers parallel calls all 0 is recognised by a new id at a taken index, which starts a new call. The result is
/// OpenAI's message shape, delivered once, on the final frame.
/// </summary>
public sealed class ToolCallAssembler
{
    /// <summary>Most argument text all calls of one stream may hold: an upstream's bytes never grow memory without bound.</summary>
    public const int MaxArgumentChars = 4 * 1024 * 1024;

    private readonly List<Call> _calls = [];
    private readonly Dictionary<int, Call> _byIndex = [];
    private int _chars;

    /// <summary>Calls so far.</summary>
    public int Count => _calls.Count;

    /// <summary>Fragments added so far: each one is upstream progress.</summary>
    public int Fragments { get; private set; }

    /// <summary>Adds one fragment.</summary>
    /// <exception cref="UpstreamException">The arguments grew past <see cref="MaxArgumentChars"/> (2005).</exception>
    public void Add(int index, string? id, string? name, string? arguments)
    {
        Fragments++;
        if (!_byIndex.TryGetValue(index, out var call) || (id is not null && call.Id is not null && id != call.Id))
        {
            call = new Call();
            _calls.Add(call);
            _byIndex[index] = call;
        }

        call.Id ??= id;
        call.Name ??= name;
        if (arguments is { Length: > 0 })
        {
            _chars += arguments.Length;
            if (_chars > MaxArgumentChars)
            {
                throw new UpstreamException(ErrorCodes.UpstreamBroken, $"upstream tool call arguments over {MaxArgumentChars / (1024 * 1024)} MiB");
            }

            call.Arguments.Append(arguments);
        }
    }

    /// <summary>The calls as a JSON array: <c>[{"id","type":"function","function":{"name","arguments"}}]</c>.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = ReplyFrames.Encoder }))
        {
            w.WriteStartArray();
            for (var i = 0; i < _calls.Count; i++)
            {
                var call = _calls[i];
                w.WriteStartObject();
                w.WriteString("id"u8, call.Id ?? $"call_{i}");
                w.WriteString("type"u8, "function");
                w.WriteStartObject("function"u8);
                w.WriteString("name"u8, call.Name ?? string.Empty);
                w.WriteString("arguments"u8, call.Arguments.ToString());
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        return buffer.ToArray();
    }

    private sealed class Call
    {
        public string? Id { get; set; }

        public string? Name { get; set; }

        public StringBuilder Arguments { get; } = new();
    }
}
