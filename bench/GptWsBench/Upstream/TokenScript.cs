using System.Globalization;
using System.Text;

namespace GptWsBench.Upstream;

/// <summary>
/// The answer every fake stream sends: N tokens that carry their index (<c>t17 </c>), with a Chinese comma after every
/// 4th and a full stop after every 8th so that the daemon's sentence mode has clauses to cut. All the bytes the upstream
/// writes are built here once, so the per-token path of the fake upstream allocates nothing.
/// </summary>
public sealed class TokenScript
{
    private readonly int[] _tokenEnd;

    /// <summary>Builds the script for <paramref name="count"/> tokens.</summary>
    public TokenScript(int count)
    {
        Count = count;
        Tokens = new byte[count][];
        TokenChunks = new byte[count][];
        _tokenEnd = new int[count];
        var all = new List<byte>();
        for (var i = 0; i < count; i++)
        {
            Tokens[i] = Encoding.UTF8.GetBytes(TokenText(i));
            all.AddRange(Tokens[i]);
            _tokenEnd[i] = all.Count;
            TokenChunks[i] = HttpChunk(Event(Chunk("{\"content\":\"" + TokenText(i) + "\"}", "null")));
        }

        Expected = [.. all];
        var head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray();
        Head = [.. head, .. HttpChunk(Event(Chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null")))];
        var usage = FormattableString.Invariant(
            $"{{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-3.5-turbo\",\"choices\":[],\"usage\":{{\"prompt_tokens\":9,\"completion_tokens\":{count},\"total_tokens\":{count + 9}}}}}");
        Tail =
        [
            .. HttpChunk(Event(Chunk("{}", "\"stop\""))),
            .. HttpChunk(Event(usage)),
            .. HttpChunk(Event("[DONE]")),
            .. "0\r\n\r\n"u8,
        ];
    }

    /// <summary>Number of content tokens per stream.</summary>
    public int Count { get; }

    /// <summary>Each token's UTF-8 text.</summary>
    public byte[][] Tokens { get; }

    /// <summary>Each token as a whole HTTP/1.1 chunk holding one SSE event.</summary>
    public byte[][] TokenChunks { get; }

    /// <summary>Status line, headers and the role chunk (sent at once, like OpenAI does).</summary>
    public byte[] Head { get; }

    /// <summary>Finish chunk, usage chunk, <c>[DONE]</c> and the last HTTP chunk.</summary>
    public byte[] Tail { get; }

    /// <summary>The whole answer: what the concatenated frames of a stream must equal, byte for byte.</summary>
    public byte[] Expected { get; }

    /// <summary>The text of token <paramref name="i"/>.</summary>
    public static string TokenText(int i) =>
        "t" + i.ToString(CultureInfo.InvariantCulture) + (i % 8 == 7 ? "。" : i % 4 == 3 ? "，" : " ");

    /// <summary>How many whole tokens the first <paramref name="bytes"/> bytes of the answer hold.</summary>
    public int TokensWithin(int bytes)
    {
        var i = Array.BinarySearch(_tokenEnd, bytes);
        return i >= 0 ? i + 1 : ~i;
    }

    /// <summary>The index of the token that holds byte <paramref name="offset"/> of the answer.</summary>
    public int TokenAt(int offset)
    {
        var i = Array.BinarySearch(_tokenEnd, offset + 1);
        return i >= 0 ? i : ~i;
    }

    private static string Chunk(string delta, string finish) =>
        "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":"
        + delta + ",\"logprobs\":null,\"finish_reason\":" + finish + "}]}";

    private static byte[] Event(string data) => Encoding.UTF8.GetBytes("data: " + data + "\n\n");

    private static byte[] HttpChunk(byte[] payload) =>
        [.. Encoding.ASCII.GetBytes(payload.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"), .. payload, .. "\r\n"u8];
}
