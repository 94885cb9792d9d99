using StackExchange.Redis;

namespace GptWsDaemon.Streams;

/// <summary>
/// The Redis names of resumable streams (protocol.md §4.5). One stream key per stream, entry ids <c>0-N</c> (N = the
/// frame's n), so "every frame after K" is XREAD from <c>0-K</c>; the id in braces is a hash tag, one slot per stream.
/// </summary>
internal static class RedisKeys
{
    /// <summary>The pub/sub channel of takeovers (<c>t ID TOKEN</c>) and cancels (<c>c ID</c>).</summary>
    public static readonly RedisChannel Channel = RedisChannel.Literal("gptws:resume");

    /// <summary>The stream's frames.</summary>
    public static RedisKey Log(string id) => $"gptws:s:{{{id}}}";

    /// <summary>Who runs it and who may resume it: <c>INSTANCE OWNER</c>; exists from the start.</summary>
    public static RedisKey Meta(string id) => $"gptws:s:{{{id}}}:o";

    /// <summary>Set (and kept fresh) while a reader on another instance follows the stream.</summary>
    public static RedisKey Lease(string id) => $"gptws:s:{{{id}}}:r";

    /// <summary>Present while the instance lives (refreshed every 2 s).</summary>
    public static RedisKey Instance(string instance) => $"gptws:i:{instance}";

    /// <summary>Written to wake the instance's blocking reader when it has a new stream to follow.</summary>
    public static RedisKey Wake(string instance) => $"gptws:w:{instance}";

    /// <summary>The entry id of frame <paramref name="n"/>.</summary>
    public static RedisValue EntryId(long n) => "0-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The n of an entry id <c>0-N</c>.</summary>
    public static long NOf(string entryId) => long.Parse(entryId.AsSpan(entryId.IndexOf('-') + 1), System.Globalization.CultureInfo.InvariantCulture);
}
