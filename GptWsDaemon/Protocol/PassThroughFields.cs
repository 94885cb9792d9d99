using System.Collections.Frozen;
using System.Text.Json;

namespace GptWsDaemon.Protocol;

/// <summary>
/// The request fields forwarded to the provider as the client wrote them (protocol.md §4.1 "Pass-through"), each
/// checked only for its JSON kind: the provider judges the rest, and its error reaches the client verbatim.
/// </summary>
internal static class PassThroughFields
{
    /// <summary>Name → the JSON kinds it may have.</summary>
    public static readonly FrozenDictionary<string, JsonValueKind[]> Kinds = new Dictionary<string, JsonValueKind[]>(StringComparer.Ordinal)
    {
        ["tools"] = [JsonValueKind.Array],
        ["tool_choice"] = [JsonValueKind.String, JsonValueKind.Object],
        ["parallel_tool_calls"] = [JsonValueKind.True, JsonValueKind.False],
        ["response_format"] = [JsonValueKind.Object],
        ["seed"] = [JsonValueKind.Number],
        ["user"] = [JsonValueKind.String],
        ["logit_bias"] = [JsonValueKind.Object],
        ["logprobs"] = [JsonValueKind.True, JsonValueKind.False],
        ["top_logprobs"] = [JsonValueKind.Number],
        ["service_tier"] = [JsonValueKind.String],
        ["metadata"] = [JsonValueKind.Object],
        ["store"] = [JsonValueKind.True, JsonValueKind.False],
        ["prediction"] = [JsonValueKind.Object],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The set fields, raw, in the order given; null members mean "not set".</summary>
    public static List<KeyValuePair<string, string>> Read(IEnumerable<JsonProperty> fields)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var field in fields)
        {
            if (field.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            var kinds = Kinds[field.Name];
            if (Array.IndexOf(kinds, field.Value.ValueKind) < 0)
            {
                throw new RequestFieldException(ErrorCodes.BadParameter, $"{field.Name}: must be {string.Join(" or ", kinds.Select(Describe).Distinct())}");
            }

            list.RemoveAll(p => p.Key == field.Name); // the last of duplicates wins, as for every field
            list.Add(new(field.Name, field.Value.GetRawText()));
        }

        return list;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        _ => "true or false",
    };
}
