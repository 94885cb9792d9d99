namespace GptWsDaemon.Streams;

/// <summary>The resume store (Redis) cannot be reached and resume.on_store_error = fail.</summary>
public sealed class StoreUnavailableException(string message) : Exception(message);
