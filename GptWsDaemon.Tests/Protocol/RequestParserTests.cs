using System.Text;
using System.Text.Json;
using GptWsDaemon.Config;
using GptWsDaemon.Protocol;
using GptWsDaemon.Upstream.Dialects;
using GptWsDaemon.Text;

namespace GptWsDaemon.Tests.Protocol;

/// <summary><see cref="RequestParser"/>: protocol.md §4 (request frame, defaults, routing) and §6 codes 1001–1004.</summary>
[Category("unit")]
[TestFixture]
public sealed class RequestParserTests
{
    /// <summary>protocol.md §2's <c>[models]</c> default, which <see cref="SettingsLoader"/> always applies.</summary>
    private static readonly Dictionary<string, string> SpecAliases = new(StringComparer.Ordinal) { ["text-davinci-003"] = "gpt-3.5-turbo-instruct" };

    [Test]
    public void Parse_SpecExample_ReturnsChat()
    {
        var request = Chat("""{"seq": "yuwrywirw89573459", "data": {"messages": [{"role": "user", "content": "杭州都有什么景色？"}], "model": "gpt-3.5-turbo", "origin_stream": false}}""", receivedAt: 123456);
        Assert.Multiple(() =>
        {
            Assert.That(request.Seq.Text, Is.EqualTo("yuwrywirw89573459"));
            Assert.That(Encoding.UTF8.GetString(request.Seq.Json), Is.EqualTo("\"yuwrywirw89573459\""));
            Assert.That(request.Messages, Is.EqualTo(new[] { new ChatMessage("user", "杭州都有什么景色？") }));
            Assert.That(request.Model, Is.EqualTo("gpt-3.5-turbo"));
            Assert.That(request.UpstreamModel, Is.EqualTo("gpt-3.5-turbo"));
            Assert.That(request.OriginStream, Is.False);
            Assert.That(request.ReceivedAt, Is.EqualTo(123456));
        });
    }

    [Test]
    public void Parse_OnlyQuery_AppliesSpecDefaults()
    {
        var request = Chat("""{"seq":"s","data":{"query":"hi"}}""");
        Assert.Multiple(() =>
        {
            // protocol.md §4 table defaults.
            Assert.That(request.Model, Is.EqualTo("gpt-3.5-turbo"));
            Assert.That(request.UpstreamModel, Is.EqualTo("gpt-3.5-turbo"));
            Assert.That(request.OriginStream, Is.True);
            Assert.That(request.Segment, Is.EqualTo(SegmentMode.Clause));
            Assert.That(request.OpenAiParameter, Is.True);
            Assert.That(request.Parameters.Temperature, Is.Zero);
            Assert.That(request.Parameters.MaxTokens, Is.EqualTo(500));
            Assert.That(request.Parameters.TopP, Is.EqualTo(1));
            Assert.That(request.Parameters.FrequencyPenalty, Is.Zero);
            Assert.That(request.Parameters.PresencePenalty, Is.Zero);
            Assert.That(request.Parameters.BestOf, Is.EqualTo(1));
            Assert.That(request.Parameters.Stop, Is.EqualTo(new[] { "Human:" }));
            Assert.That(request.Messages, Is.EqualTo(new[] { new ChatMessage("user", "hi") }));
            Assert.That(request.Query, Is.EqualTo("hi"));
        });
    }

    [Test]
    public void Parse_NullFields_MeanDefaults()
    {
        var request = Chat("""{"seq":"s","action":null,"data":{"query":"hi","messages":null,"model":null,"origin_stream":null,"segment":null,"openai_parameter":null,"temperature":null,"max_tokens":null,"top_p":null,"frequency_penalty":null,"presence_penalty":null,"best_of":null,"stop":null}}""");
        Assert.Multiple(() =>
        {
            Assert.That(request.Model, Is.EqualTo("gpt-3.5-turbo"));
            Assert.That(request.OriginStream, Is.True);
            Assert.That(request.OpenAiParameter, Is.True);
            Assert.That(request.Parameters, Is.EqualTo(new SamplingParameters { Stop = request.Parameters.Stop }));
            Assert.That(request.Parameters.Stop, Is.EqualTo(new[] { "Human:" }));
        });
    }

    [Test]
    public void Parse_EveryParameterGiven_KeepsEachValue()
    {
        var request = Chat("""{"seq":"s","data":{"query":"q","model":"gpt-4o","origin_stream":false,"segment":"sentence","openai_parameter":false,"temperature":0.7,"max_tokens":200,"top_p":0.5,"frequency_penalty":-2,"presence_penalty":2,"best_of":20,"stop":["a","b","c","d"]}}""");
        Assert.Multiple(() =>
        {
            Assert.That(request.Model, Is.EqualTo("gpt-4o"));
            Assert.That(request.OriginStream, Is.False);
            Assert.That(request.Segment, Is.EqualTo(SegmentMode.Sentence));
            Assert.That(request.OpenAiParameter, Is.False);
            Assert.That(request.Parameters.Temperature, Is.EqualTo(0.7));
            Assert.That(request.Parameters.MaxTokens, Is.EqualTo(200));
            Assert.That(request.Parameters.TopP, Is.EqualTo(0.5));
            Assert.That(request.Parameters.FrequencyPenalty, Is.EqualTo(-2));
            Assert.That(request.Parameters.PresencePenalty, Is.EqualTo(2));
            Assert.That(request.Parameters.BestOf, Is.EqualTo(20));
            Assert.That(request.Parameters.Stop, Is.EqualTo(new[] { "a", "b", "c", "d" }));
        });
    }

    [TestCase("\"temperature\":0", "temperature")]
    [TestCase("\"temperature\":2", "temperature")]
    [TestCase("\"temperature\":2.0e0", "temperature")]
    [TestCase("\"max_tokens\":1", "max_tokens")]
    [TestCase("\"max_tokens\":4000", "max_tokens")]
    [TestCase("\"top_p\":0", "top_p")]
    [TestCase("\"top_p\":1", "top_p")]
    [TestCase("\"frequency_penalty\":-2", "frequency_penalty")]
    [TestCase("\"presence_penalty\":2.0", "presence_penalty")]
    [TestCase("\"best_of\":1", "best_of")]
    [TestCase("\"best_of\":20", "best_of")]
    [TestCase("\"stop\":\"\\n\"", "stop")]
    [TestCase("\"stop\":[]", "stop")]
    [TestCase("\"stop\":[\"1\",\"2\",\"3\",\"4\"]", "stop")]
    public void Parse_BoundaryValue_IsAccepted(string field, string name)
    {
        Assert.That(Parse($$$"""{"seq":"s","data":{"query":"q",{{{field}}}}}"""), Is.TypeOf<ClientCommand.Chat>(), name);
    }

    [TestCase("not json")]
    [TestCase("")]
    [TestCase(" ")]
    [TestCase("{")]
    [TestCase("{\"seq\":\"s\"")]
    [TestCase("{\"seq\":\"s\",}")]
    [TestCase("{'seq':'s'}")]
    [TestCase("{seq:\"s\"}")]
    [TestCase("{\"seq\":\"s\"} trailing")]
    [TestCase("{\"seq\":\"s\"}{\"seq\":\"t\"}")]
    [TestCase("{\"seq\":\"s\" /* comment */}")]
    [TestCase("{\"seq\":\"s\",\"data\":{\"query\":\"q\",\"temperature\":NaN}}")]
    [TestCase("{\"seq\":\"s\",\"data\":{\"query\":\"q\",\"temperature\":.5}}")]
    [TestCase("\uFEFF{\"seq\":\"s\",\"data\":{\"query\":\"q\"}}")]
    [TestCase("[]")]
    [TestCase("[{\"seq\":\"s\",\"data\":{\"query\":\"q\"}}]")]
    [TestCase("\"{\\\"seq\\\":\\\"s\\\"}\"")]
    [TestCase("42")]
    [TestCase("1e400")]
    [TestCase("true")]
    [TestCase("null")]
    [TestCase("print('hi')")]
    [TestCase("{\"seq\":\"s\",\"data\":{\"query\":\"q\"},\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}")]
    public void Parse_NotAJsonObject_Returns1001(string frame)
    {
        var invalid = Invalid(frame);
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadFrame), invalid.Message);
            Assert.That(invalid.Message, Does.StartWith("frame is not"));
            Assert.That(invalid.Message, Has.Length.LessThanOrEqualTo(120), "the message quotes at most a trimmed parser error");
            Assert.That(invalid.Seq, Is.Null);
        });
    }

    [Test]
    public void Parse_DeepNesting1000Levels_Returns1001([Values("[", "{\"a\":")] string open)
    {
        var close = open == "[" ? "]" : "}";
        var inner = string.Concat(Enumerable.Repeat(open, 1000)) + "1" + string.Concat(Enumerable.Repeat(close, 1000));
        Assert.Multiple(() =>
        {
            Assert.That(Invalid(inner).Code, Is.EqualTo(ErrorCodes.BadFrame));
            Assert.That(Invalid("{\"seq\":\"s\",\"data\":{\"query\":\"q\",\"x\":" + inner + "}}").Code, Is.EqualTo(ErrorCodes.BadFrame));
        });
    }

    [TestCase(new byte[] { 0x00, 0x01, 0x02, 0xFF, 0xFE })]
    [TestCase(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A })]
    [TestCase(new byte[] { 0x1F, 0x8B, 0x08, 0x00 })]
    [TestCase(new byte[] { 0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00 })]
    [TestCase(new byte[] { 0x7B, 0x7D, 0x00 })]
    public void Parse_BinaryGarbage_Returns1001(byte[] frame)
    {
        var invalid = (ClientCommand.Invalid)new RequestParser(new DaemonSettings()).Parse(frame, 0);
        Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadFrame));
    }

    [TestCase("seq", new byte[] { 0xFF })]
    [TestCase("seq", new byte[] { 0xC3 })]
    [TestCase("query", new byte[] { 0x80 })]
    [TestCase("query", new byte[] { 0xC0, 0x80 })]
    [TestCase("query", new byte[] { 0xED, 0xA0, 0x80 })]
    [TestCase("query", new byte[] { 0xF0, 0x9F, 0x8C })]
    [TestCase("content", new byte[] { 0xE6, 0x9D })]
    [TestCase("model", new byte[] { 0xFE })]
    [TestCase("action", new byte[] { 0xFF })]
    [TestCase("role", new byte[] { 0xFF })]
    public void Parse_InvalidUtf8InAString_Returns1001(string where, byte[] bad)
    {
        // ASCII "@@" marks the spot the invalid bytes replace.
        var template = where switch
        {
            "seq" => """{"seq":"a@@","data":{"query":"q"}}""",
            "query" => """{"seq":"a","data":{"query":"q@@"}}""",
            "content" => """{"seq":"a","data":{"messages":[{"role":"user","content":"@@"}]}}""",
            "model" => """{"seq":"a","data":{"query":"q","model":"@@"}}""",
            "action" => """{"seq":"a","action":"@@"}""",
            _ => """{"seq":"a","data":{"messages":[{"role":"@@","content":"c"}]}}""",
        };
        var bytes = Encoding.UTF8.GetBytes(template);
        var at = template.IndexOf("@@", StringComparison.Ordinal);
        var frame = bytes[..at].Concat(bad).Concat(bytes[(at + 2)..]).ToArray();

        var command = new RequestParser(new DaemonSettings()).Parse(frame, 0);
        Assert.That(command, Is.TypeOf<ClientCommand.Invalid>());
        var invalid = (ClientCommand.Invalid)command;
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadFrame), invalid.Message);
            Assert.That(invalid.Seq?.Text, Is.EqualTo(where == "seq" ? null : "a"), "the seq still reaches its stream when it is readable");
        });
    }

    [TestCase("""{"seq":"a","data":{"query":"\ud800"}}""", "a")]
    [TestCase("""{"seq":"a","data":{"query":"x\udc00y"}}""", "a")]
    [TestCase("""{"seq":"a","data":{"messages":[{"role":"user","content":"\uDBFF"}]}}""", "a")]
    [TestCase("""{"seq":"a","data":{"query":"q","model":"\ud800"}}""", "a")]
    [TestCase("""{"seq":"a","data":{"query":"q","segment":"\ud800"}}""", "a")]
    [TestCase("""{"seq":"a","data":{"query":"q","stop":["\udfff"]}}""", "a")]
    [TestCase("""{"seq":"\ud800","data":{"query":"q"}}""", null)]
    [TestCase("""{"seq":"a","action":"\ud800"}""", "a")]
    public void Parse_UnpairedSurrogateEscape_Returns1001(string frame, string? seq)
    {
        // "\ud800" is plain ASCII (the WebSocket's UTF-8 check passes it) but is no Unicode text: refuse it with a frame.
        var invalid = Invalid(frame);
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadFrame), invalid.Message);
            Assert.That(invalid.Seq?.Text, Is.EqualTo(seq));
        });
    }

    [Test]
    public void Parse_PairedSurrogateEscapes_AreText()
    {
        var request = Chat("""{"seq":"\ud83c\udf38","data":{"query":"\ud83d\ude00 \u676d\u5dde"}}""");
        Assert.Multiple(() =>
        {
            Assert.That(request.Seq.Text, Is.EqualTo("🌸"));
            Assert.That(request.Messages.Single().Content, Is.EqualTo("😀 杭州"));
        });
    }

    [TestCase("""{"data":{"query":"q"}}""")]
    [TestCase("""{"seq":null,"data":{"query":"q"}}""")]
    [TestCase("""{"seq":"","data":{"query":"q"}}""")]
    [TestCase("""{"seq":{},"data":{"query":"q"}}""")]
    [TestCase("""{"seq":{"id":"s"},"data":{"query":"q"}}""")]
    [TestCase("""{"seq":["s"],"data":{"query":"q"}}""")]
    [TestCase("""{"seq":true,"data":{"query":"q"}}""")]
    [TestCase("""{"SEQ":"s","data":{"query":"q"}}""")]
    [TestCase("""{}""")]
    public void Parse_SeqMissingEmptyOrNotAStringOrNumber_Returns1002(string frame)
    {
        var invalid = Invalid(frame);
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.MissingSeq));
            Assert.That(invalid.Message, Does.StartWith("seq:"));
            Assert.That(invalid.Seq, Is.Null);
        });
    }

    [Test]
    public void Parse_SeqLength_Allows256Characters()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Chat($$$"""{"seq":"{{{new string('s', 256)}}}","data":{"query":"q"}}""").Seq.Text, Has.Length.EqualTo(256));
            var invalid = Invalid($$$"""{"seq":"{{{new string('s', 257)}}}","data":{"query":"q"}}""");
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.MissingSeq));
            Assert.That(invalid.Message, Does.StartWith("seq:").And.Contain("256"));
        });
    }

    [TestCase("0")]
    [TestCase("-0")]
    [TestCase("42")]
    [TestCase("-17")]
    [TestCase("1.50")]
    [TestCase("3.0E+2")]
    [TestCase("1e400")]
    [TestCase("12345678901234567890123456789")]
    public void Parse_NumericSeq_IsEchoedVerbatim(string number)
    {
        // protocol.md §4: "a number is accepted and echoed as the same JSON number's text".
        var request = Chat($$$"""{"seq": {{{number}}} ,"data":{"query":"q"}}""");
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(request.Seq.Json), Is.EqualTo(number));
            Assert.That(request.Seq.Text, Is.EqualTo(number));
        });
    }

    [Test]
    public void Parse_NumericSeqOver64Characters_Returns1002()
    {
        Assert.That(Invalid($$$"""{"seq":{{{new string('9', 65)}}},"data":{"query":"q"}}""").Code, Is.EqualTo(ErrorCodes.MissingSeq));
    }

    [TestCase("s-1")]
    [TestCase("杭州 🌸")]
    [TestCase("quote\" backslash\\ slash/")]
    [TestCase("tab\t newline\n nul\0 bell\u0007")]
    [TestCase("<script>&amp;'")]
    [TestCase("\u2028\u2029")]
    public void Parse_StringSeq_JsonFormRoundTrips(string seq)
    {
        var frame = JsonSerializer.Serialize(new { seq, data = new { query = "q" } });
        var request = Chat(frame);
        Assert.Multiple(() =>
        {
            Assert.That(request.Seq.Text, Is.EqualTo(seq));
            Assert.That(JsonDocument.Parse(request.Seq.Json).RootElement.GetString(), Is.EqualTo(seq));
        });
    }

    [TestCase("""{"seq":"s"}""", "data")]
    [TestCase("""{"seq":"s","data":null}""", "data")]
    [TestCase("""{"seq":"s","data":{}}""", "data")]
    [TestCase("""{"seq":"s","data":{"query":""}}""", "data")]
    [TestCase("""{"seq":"s","data":{"messages":[]}}""", "data")]
    [TestCase("""{"seq":"s","data":{"query":"","messages":[]}}""", "data")]
    [TestCase("""{"seq":"s","data":{"query":null,"messages":null}}""", "data")]
    [TestCase("""{"seq":"s","data":{"model":"gpt-4o","temperature":1}}""", "data")]
    [TestCase("""{"seq":"s","data":{"messages":"杭州都有什么景色？"}}""", "messages")]
    [TestCase("""{"seq":"s","data":{"messages":{"role":"user","content":"c"}}}""", "messages")]
    [TestCase("""{"seq":"s","data":{"messages":[1]}}""", "messages[0]")]
    [TestCase("""{"seq":"s","data":{"messages":[null]}}""", "messages[0]")]
    [TestCase("""{"seq":"s","data":{"messages":[["user","c"]]}}""", "messages[0]")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user"}]}}""", "messages[0].content")]
    [TestCase("""{"seq":"s","data":{"messages":[{"content":"c"}]}}""", "messages[0]")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user","content":null}]}}""", "messages[0].content")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user","content":5}]}}""", "messages[0].content")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user","content":[{"type":"video","url":"c"}]}]}}""", "messages[0].content[0].type")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}}]}]}}""", "messages[0].content[1].image_url.url")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user","content":[]}]}}""", "messages[0].content")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user","content":"x","tool_calls":[]}]}}""", "messages[0].tool_calls")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"assistant","tool_calls":[{"id":"c1"}]}]}}""", "messages[0].tool_calls[0]")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":1,"content":"c"}]}}""", "messages[0]")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"robot","content":"c"}]}}""", "messages[0].role")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"User","content":"c"}]}}""", "messages[0].role")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"","content":"c"}]}}""", "messages[0].role")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"user","content":"ok"},{"role":"system","content":"ok"},{"role":"tool","content":"c"}]}}""", "messages[2].tool_call_id")]
    [TestCase("""{"seq":"s","data":{"messages":[{"role":"bot","content":"c"}]}}""", "messages[0].role")]
    [TestCase("""{"seq":"s","data":{"query":"q","messages":[{"role":"user","content":"ok"},{"role":"user"}]}}""", "messages[1].content")]
    public void Parse_MissingOrMalformedPrompt_Returns1003NamingIt(string frame, string name)
    {
        var invalid = Invalid(frame);
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.MissingPrompt), invalid.Message);
            Assert.That(invalid.Message, Does.StartWith(name + ":"));
            Assert.That(invalid.Seq?.Text, Is.EqualTo("s"));
        });
    }

    [TestCase("\"temperature\":1e400", "temperature")]
    [TestCase("\"temperature\":-1e400", "temperature")]
    [TestCase("\"temperature\":-0.1", "temperature")]
    [TestCase("\"temperature\":2.0000001", "temperature")]
    [TestCase("\"temperature\":\"0.5\"", "temperature")]
    [TestCase("\"temperature\":true", "temperature")]
    [TestCase("\"temperature\":[0.5]", "temperature")]
    [TestCase("\"max_tokens\":4001", "max_tokens")]
    [TestCase("\"max_tokens\":0", "max_tokens")]
    [TestCase("\"max_tokens\":-1", "max_tokens")]
    [TestCase("\"max_tokens\":1.5", "max_tokens")]
    [TestCase("\"max_tokens\":1e400", "max_tokens")]
    [TestCase("\"max_tokens\":99999999999999999999", "max_tokens")]
    [TestCase("\"max_tokens\":\"500\"", "max_tokens")]
    [TestCase("\"top_p\":1.5", "top_p")]
    [TestCase("\"top_p\":-0.01", "top_p")]
    [TestCase("\"frequency_penalty\":-2.1", "frequency_penalty")]
    [TestCase("\"frequency_penalty\":2.1", "frequency_penalty")]
    [TestCase("\"presence_penalty\":-2.1", "presence_penalty")]
    [TestCase("\"presence_penalty\":2.1", "presence_penalty")]
    [TestCase("\"presence_penalty\":{}", "presence_penalty")]
    [TestCase("\"best_of\":21", "best_of")]
    [TestCase("\"best_of\":0", "best_of")]
    [TestCase("\"best_of\":2.5", "best_of")]
    [TestCase("\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\"]", "stop")]
    [TestCase("\"stop\":5", "stop")]
    [TestCase("\"stop\":[5]", "stop")]
    [TestCase("\"stop\":[\"a\",null]", "stop")]
    [TestCase("\"stop\":{\"a\":1}", "stop")]
    [TestCase("\"stop\":true", "stop")]
    [TestCase("\"model\":5", "model")]
    [TestCase("\"model\":[\"gpt-4o\"]", "model")]
    [TestCase("\"origin_stream\":\"false\"", "origin_stream")]
    [TestCase("\"origin_stream\":0", "origin_stream")]
    [TestCase("\"openai_parameter\":\"yes\"", "openai_parameter")]
    [TestCase("\"segment\":\"word\"", "segment")]
    [TestCase("\"segment\":\"Sentence\"", "segment")]
    [TestCase("\"segment\":1", "segment")]
    [TestCase("\"query\":5", "query")]
    [TestCase("\"query\":[\"q\"]", "query")]
    public void Parse_BadParameter_Returns1004NamingIt(string field, string name)
    {
        var invalid = Invalid($$$"""{"seq":"s","data":{"query":"q",{{{field}}}}}""");
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadParameter), invalid.Message);
            Assert.That(invalid.Message, Does.StartWith(name + ":"));
            Assert.That(invalid.Seq?.Text, Is.EqualTo("s"));
        });
    }

    [TestCase("max_tokens", "\"max_tokens\":4001", "1 to 4000")]
    [TestCase("top_p", "\"top_p\":1.5", "0 to 1")]
    [TestCase("frequency_penalty", "\"frequency_penalty\":3", "-2 to 2")]
    [TestCase("best_of", "\"best_of\":21", "1 to 20")]
    public void Parse_OutOfRange_MessageStatesTheRange(string name, string field, string range)
    {
        Assert.That(Invalid($$$"""{"seq":"s","data":{"query":"q",{{{field}}}}}""").Message, Does.Contain(range), name);
    }

    [Test]
    public void Parse_MaxTokensCap_FollowsLimitsMaxTokens()
    {
        var parser = new RequestParser(new DaemonSettings { MaxTokens = 100 });
        Assert.Multiple(() =>
        {
            Assert.That(parser.Parse("""{"seq":"s","data":{"query":"q","max_tokens":100}}"""u8, 0), Is.TypeOf<ClientCommand.Chat>());
            var invalid = (ClientCommand.Invalid)parser.Parse("""{"seq":"s","data":{"query":"q","max_tokens":101}}"""u8, 0);
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadParameter));
            Assert.That(invalid.Message, Is.EqualTo("max_tokens: must be an integer from 1 to 100"));
        });
    }

    [TestCase("\"x\"")]
    [TestCase("[]")]
    [TestCase("5")]
    [TestCase("true")]
    public void Parse_DataNotAnObject_Returns1004WithSeq(string data)
    {
        var invalid = Invalid($$$"""{"seq":"s","data":{{{data}}}}""");
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadParameter));
            Assert.That(invalid.Message, Does.StartWith("data:"));
            Assert.That(invalid.Seq?.Text, Is.EqualTo("s"));
        });
    }

    [Test]
    public void Parse_ModelTooLong_Returns1004()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Chat($$$"""{"seq":"s","data":{"query":"q","model":"{{{new string('m', 200)}}}"}}""").Model, Has.Length.EqualTo(200));
            var invalid = Invalid($$$"""{"seq":"s","data":{"query":"q","model":"{{{new string('m', 201)}}}"}}""");
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadParameter));
            Assert.That(invalid.Message, Does.StartWith("model:"));
        });
    }

    [TestCase("", "gpt-3.5-turbo")]
    [TestCase("   ", "gpt-3.5-turbo")]
    [TestCase(" gpt-4o\t", "gpt-4o")]
    [TestCase("gpt-4o-mini", "gpt-4o-mini")]
    public void Parse_Model_TrimmedOrDefaulted(string model, string expected)
    {
        var frame = JsonSerializer.Serialize(new { seq = "s", data = new { query = "q", model } });
        Assert.That(Chat(frame).Model, Is.EqualTo(expected));
    }

    [Test]
    public void Parse_ModelAlias_SendsTheAliasedModel()
    {
        var settings = new DaemonSettings { ModelAliases = new Dictionary<string, string>(StringComparer.Ordinal) { ["gpt-4"] = "gpt-4o", ["old-instruct"] = "gpt-4o-mini" } };
        var aliased = Chat("""{"seq":"s","data":{"query":"q","model":"gpt-4"}}""", settings);
        var retired = Chat("""{"seq":"s","data":{"query":"q","model":"old-instruct"}}""", settings);
        var caseDiffers = Chat("""{"seq":"s","data":{"query":"q","model":"GPT-4"}}""", settings);
        Assert.Multiple(() =>
        {
            Assert.That((aliased.Model, aliased.UpstreamModel, OpenAiDialect.IsCompletionsModel(aliased.UpstreamModel)), Is.EqualTo(("gpt-4", "gpt-4o", false)));
            // Routing follows the model actually sent: an alias onto a chat model goes to /chat/completions.
            Assert.That((retired.Model, retired.UpstreamModel, OpenAiDialect.IsCompletionsModel(retired.UpstreamModel)), Is.EqualTo(("old-instruct", "gpt-4o-mini", false)));
            Assert.That(retired.Messages, Has.Count.EqualTo(1));
            Assert.That(caseDiffers.UpstreamModel, Is.EqualTo("GPT-4"), "aliases match the model name exactly");
        });
    }

    [Test]
    public void Parse_TextDavinci003WithSpecAliases_GoesToCompletionsAsInstruct()
    {
        var request = Chat("""{"seq":"s","data":{"query":"Human: 你好\nAI:","model":"text-davinci-003"}}""", new DaemonSettings { ModelAliases = SpecAliases });
        Assert.Multiple(() =>
        {
            Assert.That(request.Model, Is.EqualTo("text-davinci-003"));
            Assert.That(request.UpstreamModel, Is.EqualTo("gpt-3.5-turbo-instruct"));
            Assert.That(OpenAiDialect.IsCompletionsModel(request.UpstreamModel), Is.True);
            Assert.That(PromptSent(request), Is.EqualTo("Human: 你好\nAI:"));
        });
    }

    [TestCase("text-davinci-003", true)]
    [TestCase("text-curie-001", true)]
    [TestCase("gpt-3.5-turbo-instruct", true)]
    [TestCase("gpt-3.5-turbo-instruct-0914", false)]
    [TestCase("davinci-002", true)]
    [TestCase("babbage-002", true)]
    [TestCase("gpt-3.5-turbo", false)]
    [TestCase("gpt-4o", false)]
    [TestCase("o1-mini", false)]
    [TestCase("instruct", false)]
    [TestCase("my-model-instruct", true)]
    public void IsCompletionsModel_ModelName_RoutesBySpec(string model, bool completions)
    {
        Assert.That(OpenAiDialect.IsCompletionsModel(model), Is.EqualTo(completions));
    }

    [Test]
    public void Parse_QueryAndMessagesWithChatModel_AppendsQueryAsLastUserMessage()
    {
        var request = Chat("""{"seq":"s","data":{"query":"然后呢？","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"杭州?"},{"role":"assistant","content":"西湖。"}]}}""");
        Assert.That(request.Messages, Is.EqualTo(new[]
        {
            new ChatMessage("system", "be brief"), new ChatMessage("user", "杭州?"), new ChatMessage("assistant", "西湖。"), new ChatMessage("user", "然后呢？"),
        }));
    }

    [Test]
    public void Parse_MessagesWithCompletionsModel_FlattensToHumanAiPrompt()
    {
        var request = Chat("""{"seq":"s","data":{"model":"gpt-3.5-turbo-instruct","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"杭州?"}]}}""");
        Assert.Multiple(() =>
        {
            Assert.That(OpenAiDialect.IsCompletionsModel(request.UpstreamModel), Is.True);
            Assert.That(PromptSent(request), Is.EqualTo("be brief\nHuman: hi\nAI: hello\nHuman: 杭州?\nAI:"));
        });
    }

    [Test]
    public void Parse_QueryAndMessagesWithCompletionsModel_QueryIsThePrompt()
    {
        var request = Chat("""{"seq":"s","data":{"model":"davinci-002","query":"Q","messages":[{"role":"user","content":"ignored"}]}}""");
        Assert.That((OpenAiDialect.IsCompletionsModel(request.UpstreamModel), PromptSent(request)), Is.EqualTo((true, "Q")));
    }

    [Test]
    public void Parse_DeveloperRole_IsAccepted()
    {
        Assert.That(Chat("""{"seq":"s","data":{"messages":[{"role":"developer","content":"d"},{"role":"user","content":"u"}]}}""").Messages[0].Role, Is.EqualTo("developer"));
    }

    [Test]
    public void Parse_UnknownFields_AreIgnored_PassThroughKept()
    {
        var request = Chat("""{"seq":"s","version":2,"meta":{"a":[1,{"b":null}]},"data":{"query":"q","n":1,"stream":false,"user":"u","logit_bias":{"1":2},"messages":[{"role":"user","content":"m","name":"bob","extra":{}}]}}""");
        Assert.Multiple(() =>
        {
            Assert.That(request.Messages, Is.EqualTo(new[] { new ChatMessage("user", "m") { Name = "bob" }, new ChatMessage("user", "q") }));
            Assert.That(request.PassThrough, Is.EqualTo(new[] { new KeyValuePair<string, string>("user", "\"u\""), new KeyValuePair<string, string>("logit_bias", """{"1":2}""") }), "stream is the daemon's: not passed through");
        });
    }

    [TestCase("clause", SegmentMode.Sentence, SegmentMode.Clause)]
    [TestCase("sentence", SegmentMode.Clause, SegmentMode.Sentence)]
    [TestCase(null, SegmentMode.Sentence, SegmentMode.Sentence)]
    [TestCase(null, SegmentMode.Clause, SegmentMode.Clause)]
    public void Parse_Segment_ClientValueElseIniDefault(string? segment, SegmentMode iniDefault, SegmentMode expected)
    {
        var frame = JsonSerializer.Serialize(new { seq = "s", data = new { query = "q", origin_stream = false, segment } });
        Assert.That(Chat(frame, new DaemonSettings { Segment = iniDefault }).Segment, Is.EqualTo(expected));
    }

    [Test]
    public void Parse_Cancel_ReturnsCancelWithSeq()
    {
        var command = Parse("""{"seq":"s1","action":"cancel"}""");
        var numeric = Parse("""{"seq":7,"action":"cancel","data":{"query":"ignored"}}""");
        Assert.Multiple(() =>
        {
            Assert.That(command, Is.TypeOf<ClientCommand.Cancel>());
            Assert.That(((ClientCommand.Cancel)command).Seq.Text, Is.EqualTo("s1"));
            Assert.That(((ClientCommand.Cancel)numeric).Seq.Text, Is.EqualTo("7"));
        });
    }

    [TestCase("""{"action":"cancel"}""")]
    [TestCase("""{"seq":"","action":"cancel"}""")]
    [TestCase("""{"seq":[],"action":"cancel"}""")]
    public void Parse_CancelWithoutSeq_Returns1002(string frame)
    {
        var invalid = Invalid(frame);
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.MissingSeq));
            Assert.That(invalid.Message, Does.StartWith("cancel: seq:"));
        });
    }

    [Test]
    public void Parse_Ping_ReturnsPingWithOptionalSeq()
    {
        var bare = Parse("""{"action":"ping"}""");
        var withSeq = Parse("""{"action":"ping","seq":"p"}""");
        var badSeq = Parse("""{"action":"ping","seq":{}}""");
        Assert.Multiple(() =>
        {
            Assert.That(bare, Is.EqualTo(new ClientCommand.Ping(null)));
            Assert.That(((ClientCommand.Ping)withSeq).Seq?.Text, Is.EqualTo("p"));
            Assert.That(badSeq, Is.EqualTo(new ClientCommand.Ping(null)));
        });
    }

    [TestCase("\"stop\"")]
    [TestCase("\"Cancel\"")]
    [TestCase("\"PING\"")]
    [TestCase("\"\"")]
    [TestCase("5")]
    [TestCase("{}")]
    [TestCase("true")]
    public void Parse_UnknownAction_Returns1004(string action)
    {
        var invalid = Invalid($$$"""{"seq":"s","action":{{{action}}},"data":{"query":"q"}}""");
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadParameter));
            Assert.That(invalid.Message, Does.StartWith("action:"));
            Assert.That(invalid.Seq?.Text, Is.EqualTo("s"));
        });
    }

    [TestCase("""{"seq":"s","data":"q"}""")]
    [TestCase("""{"seq":"s","data":["q"]}""")]
    [TestCase("""{"seq":"s","data":3}""")]
    [TestCase("""{"data":true,"seq":"s"}""")]
    public void Parse_DataNotAnObject_Returns1004OnItsStream(string frame)
    {
        var invalid = Invalid(frame);
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadParameter));
            Assert.That(invalid.Message, Is.EqualTo("data: must be an object"));
            Assert.That(invalid.Seq?.Text, Is.EqualTo("s"));
        });
    }

    [TestCase("""{"seq":"s","data":null}""")]
    [TestCase("""{"seq":"s"}""")]
    public void Parse_DataNullOrAbsent_Returns1003(string frame) =>
        Assert.That(Invalid(frame).Code, Is.EqualTo(ErrorCodes.MissingPrompt));

    [TestCase("[1,2]")]
    [TestCase("\"text\"")]
    [TestCase("42")]
    [TestCase("null")]
    public void Parse_RootNotAnObject_Returns1001(string frame)
    {
        var invalid = Invalid(frame);
        Assert.Multiple(() =>
        {
            Assert.That(invalid.Code, Is.EqualTo(ErrorCodes.BadFrame));
            Assert.That(invalid.Message, Is.EqualTo("frame is not a JSON object"));
        });
    }

    [Test]
    public void Parse_DuplicateFields_TheLastWins_AndEscapedNamesMatch()
    {
        var request = Chat("""{"seq":"a","seq":"b","data":{"query":"x","\u0071uery":"y","model":"gpt-4o","unknown":[1]}}""");
        Assert.Multiple(() =>
        {
            Assert.That(request.Seq.Text, Is.EqualTo("b"));
            Assert.That(request.Messages.Single().Content, Is.EqualTo("y"));
            Assert.That(request.Model, Is.EqualTo("gpt-4o"));
        });
    }

    [Test]
    public void Parse_FromAReceiveBuffer_ReadsOnlyTheFrame()
    {
        // The connection passes its pooled buffer: bytes after the frame must not be read.
        var frame = Encoding.UTF8.GetBytes("""{"seq":"s","data":{"query":"q"}}""");
        var buffer = frame.Concat("garbage that is not JSON"u8.ToArray()).ToArray();

        var command = new RequestParser(new DaemonSettings()).Parse(buffer.AsMemory(0, frame.Length), 0);

        Assert.That(command, Is.TypeOf<ClientCommand.Chat>());
    }

    [Test]
    public void Parse_LargeFrame_IsParsed()
    {
        // The size limit (1007) is the connection's business; the parser takes what it is given.
        var content = string.Concat(Enumerable.Repeat("杭州西湖🌸 ", 20_000));
        var frame = JsonSerializer.Serialize(new { seq = "s", data = new { messages = new[] { new { role = "user", content } } } });
        Assert.That(Chat(frame).Messages.Single().Content, Is.EqualTo(content));
    }

    private static ClientCommand Parse(string frame, DaemonSettings? settings = null, long receivedAt = 0) =>
        new RequestParser(settings ?? new DaemonSettings()).Parse(Encoding.UTF8.GetBytes(frame), receivedAt);

    private static ChatRequest Chat(string frame, DaemonSettings? settings = null, long receivedAt = 0)
    {
        var command = Parse(frame, settings, receivedAt);
        Assert.That(command, Is.TypeOf<ClientCommand.Chat>(), () => $"{command}");
        return ((ClientCommand.Chat)command).Request;
    }

    private static ClientCommand.Invalid Invalid(string frame)
    {
        var command = Parse(frame);
        Assert.That(command, Is.TypeOf<ClientCommand.Invalid>(), () => $"{command}");
        return (ClientCommand.Invalid)command;
    }

    /// <summary>The prompt the OpenAI dialect sends for a prompt-only model (the flattening is the dialect's, not the protocol's).</summary>
    private static string? PromptSent(ChatRequest request)
    {
        using var body = System.Text.Json.JsonDocument.Parse(new OpenAiDialect("http://127.0.0.1/v1").WriteBody(request, request.UpstreamModel));
        return body.RootElement.GetProperty("prompt").GetString();
    }
}
