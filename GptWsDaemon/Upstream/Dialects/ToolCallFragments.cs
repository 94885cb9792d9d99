using System.Text.Json;
using GptWsDaemon.Protocol;

namespace GptWsDaemon.Upstream.Dialects;

/// <summary>A delta's tool-call fragments, <c>[{index, id?, type?, function: {name?, arguments?}}]</c>, into the stream's <see cref="ToolCallAssembler"/>.</summary>
internal static class ToolCallFragments
{
    /// <summary>Reads the array at the reader into <paramref name="state"/>'s assembler.</summary>
    public static void Read(ref Utf8JsonReader reader, StreamState state)
    {
        var position = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            int index = position++;
            string? id = null, name = null, arguments = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("index"u8))
                {
                    reader.Read();
                    index = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var i) ? i : index;
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("function"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isName = reader.ValueTextEquals("name"u8);
                        var isArguments = reader.ValueTextEquals("arguments"u8);
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.String && (isName || isArguments))
                        {
                            if (isName)
                            {
                                name = reader.GetString();
                            }
                            else
                            {
                                arguments = reader.GetString();
                            }
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            (state.ToolCalls ??= new ToolCallAssembler()).Add(index, id, name, arguments);
        }
    }
}
