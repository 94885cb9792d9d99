namespace GptWsDaemon.Upstream;

/// <summary>Which provider and key serve a stream (protocol.md §5 final frame <c>provider</c>, <c>key_id</c>); one per key, made at startup.</summary>
/// <param name="Provider">The provider's configured name.</param>
/// <param name="KeyId">The key's masked id (<c>…abcd</c>).</param>
public sealed record ServedBy(string Provider, string KeyId);
