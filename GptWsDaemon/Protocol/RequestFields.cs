using System.Text.Json;

namespace GptWsDaemon.Protocol;

/// <summary>Reads and checks the fields of a request's <c>data</c> (protocol.md §4.1): types, ranges, defaults; a bad one throws <see cref="RequestFieldException"/> naming it.</summary>
internal static class RequestFields
{
    public static List<string> ReadStop(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return ["Human:"];
            case JsonValueKind.String:
                return [element.GetString()!];
            case JsonValueKind.Array when element.GetArrayLength() <= 4:
                var list = new List<string>();
                foreach (var s in element.EnumerateArray())
                {
                    if (s.ValueKind != JsonValueKind.String)
                    {
                        throw new RequestFieldException(ErrorCodes.BadParameter, "stop: must be a string or an array of up to 4 strings");
                    }

                    list.Add(s.GetString()!);
                }

                return list;
            default:
                throw new RequestFieldException(ErrorCodes.BadParameter, "stop: must be a string or an array of up to 4 strings");
        }
    }

    public static string? OptionalString(JsonElement element, string name) => element.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => null,
        JsonValueKind.String => element.GetString(),
        _ => throw new RequestFieldException(ErrorCodes.BadParameter, $"{name}: must be a string"),
    };

    public static bool Bool(JsonElement element, string name, bool fallback) => element.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => fallback,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new RequestFieldException(ErrorCodes.BadParameter, $"{name}: must be true or false"),
    };

    public static double Number(JsonElement element, string name, double min, double max, double fallback)
    {
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return fallback;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var value) || !double.IsFinite(value) || value < min || value > max)
        {
            throw new RequestFieldException(ErrorCodes.BadParameter, FormattableString.Invariant($"{name}: must be a number from {min} to {max}"));
        }

        return value;
    }

    public static int Integer(JsonElement element, string name, int min, int max, int fallback)
    {
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return fallback;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var value) || value < min || value > max)
        {
            throw new RequestFieldException(ErrorCodes.BadParameter, FormattableString.Invariant($"{name}: must be an integer from {min} to {max}"));
        }

        return value;
    }

    /// <summary>A client's text cut to 80 characters for an error message.</summary>
    public static string Trim(string text) => text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 80), "…");
}
