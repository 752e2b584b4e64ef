package io.github.camelllmrouter.demo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

/**
 * The JSON and text bodies {@link FakeOpenAiBackend} answers with. They are assembled as strings rather than
 * through an object mapper because the fake is the baseline of the router's benchmark and must cost next to
 * nothing per request.
 */
final class FakeAnswers {

    static final String USAGE = "{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}";
    static final String DONE = "data: [DONE]\n\n";

    private static final JsonFactory JSON = new JsonFactory();

    private FakeAnswers() {
    }

    /** What the fake needs from a request body; a body that is not a JSON object yields {@link #NONE}. */
    record Parsed(String model, boolean stream, boolean includeUsage, String user, boolean base64) {
        static final Parsed NONE = new Parsed(null, false, false, null, false);
    }

    /** Reads only the top-level fields it needs and skips the rest, so long prompts are never materialised. */
    static Parsed parse(String body) {
        if (body.isEmpty()) {
            return Parsed.NONE;
        }
        String model = null;
        boolean stream = false;
        boolean includeUsage = false;
        String user = null;
        boolean base64 = false;
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Parsed.NONE;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "model" -> model = value == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "stream" -> stream = value == JsonToken.VALUE_TRUE;
                    case "stream_options" -> includeUsage = includeUsage(p, value);
                    case "user" -> user = value == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "encoding_format" -> base64 = value == JsonToken.VALUE_STRING && "base64".equals(p.getText());
                    default -> { }
                }
                p.skipChildren(); // no-op unless the value is an object or array nobody read
            }
        } catch (IOException malformed) {
            // keep whatever was read before the damage: a truncated body still says which model it wanted
        }
        return new Parsed(model, stream, includeUsage, user, base64);
    }

    private static boolean includeUsage(JsonParser p, JsonToken value) throws IOException {
        if (value != JsonToken.START_OBJECT) {
            return false;
        }
        boolean include = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            if ("include_usage".equals(field)) {
                include = v == JsonToken.VALUE_TRUE;
            }
            p.skipChildren();
        }
        return include;
    }

    /** A JSON string literal, quotes included, or {@code null}. */
    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        return new StringBuilder(s.length() + 2).append('"').append(JsonStringEncoder.getInstance().quoteAsString(s))
                .append('"').toString();
    }

    static String chatCompletion(long id, long created, String quotedModel, String quotedContent) {
        return "{\"id\":\"chatcmpl-" + id + "\",\"object\":\"chat.completion\",\"created\":" + created
                + ",\"model\":" + quotedModel
                + ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" + quotedContent
                + "},\"finish_reason\":\"stop\"}],\"usage\":" + USAGE + "}";
    }

    static String textCompletion(long id, long created, String quotedModel, String quotedContent) {
        return "{\"id\":\"cmpl-" + id + "\",\"object\":\"text_completion\",\"created\":" + created
                + ",\"model\":" + quotedModel
                + ",\"choices\":[{\"index\":0,\"text\":" + quotedContent
                + ",\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":" + USAGE + "}";
    }

    /** A 3-number embedding; with encoding_format base64 (the OpenAI SDKs' default), as little-endian float32s. */
    static String embeddings(String quotedModel, boolean base64) {
        String vector = "[0.1,0.2,0.3]";
        if (base64) {
            ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            b.putFloat(0.1f).putFloat(0.2f).putFloat(0.3f);
            vector = "\"" + Base64.getEncoder().encodeToString(b.array()) + "\"";
        }
        return "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":" + vector + "}]"
                + ",\"model\":" + quotedModel + ",\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5}}";
    }

    /** The part every event of one stream shares, up to and including the opening of its choices array. */
    static String streamPrefix(boolean chat, long id, long created, String quotedModel) {
        return "data: {\"id\":\"" + (chat ? "chatcmpl-" : "cmpl-") + id + "\",\"object\":\""
                + (chat ? "chat.completion.chunk" : "text_completion") + "\",\"created\":" + created
                + ",\"model\":" + quotedModel + ",\"choices\":[";
    }

    /** Token {@code i} of {@code n}; the last one carries the finish reason, as OpenAI's streams do. */
    static String streamChunk(String prefix, boolean chat, int i, int n) {
        String finish = i == n - 1 ? "\"stop\"" : "null";
        if (chat) {
            // the first delta names the role, like OpenAI's; clients that only concatenate content don't care
            String role = i == 0 ? "\"role\":\"assistant\"," : "";
            return prefix + "{\"index\":0,\"delta\":{" + role + "\"content\":\"tok" + i + " \"},\"finish_reason\":"
                    + finish + "}]}\n\n";
        }
        return prefix + "{\"index\":0,\"text\":\"tok" + i + " \",\"logprobs\":null,\"finish_reason\":" + finish
                + "}]}\n\n";
    }

    static String streamUsage(String prefix, int completionTokens) {
        return prefix + "],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":" + completionTokens
                + ",\"total_tokens\":" + (5 + completionTokens) + "}}\n\n";
    }

    static String models(List<String> models, long created, String quotedOwner) {
        StringBuilder sb = new StringBuilder("{\"object\":\"list\",\"data\":[");
        for (int i = 0; i < models.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            // as vLLM answers: root (the weights), parent, max_model_len and permission
            sb.append("{\"id\":").append(quote(models.get(i))).append(",\"object\":\"model\",\"created\":")
                    .append(created).append(",\"owned_by\":").append(quotedOwner)
                    .append(",\"root\":").append(quote("/models/" + models.get(i))).append(",\"parent\":null")
                    .append(",\"max_model_len\":8192,\"permission\":[]}");
        }
        return sb.append("]}").toString();
    }

    static String metrics(List<String> models, int running) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("# HELP vllm:num_requests_running Number of requests currently running.\n")
                .append("# TYPE vllm:num_requests_running gauge\n");
        for (String m : models) {
            sb.append("vllm:num_requests_running{model_name=\"").append(labelValue(m)).append("\"} ")
                    .append(running).append(".0\n");
        }
        sb.append("# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n")
                .append("# TYPE vllm:num_requests_waiting gauge\n");
        for (String m : models) {
            sb.append("vllm:num_requests_waiting{model_name=\"").append(labelValue(m)).append("\"} 0.0\n");
        }
        // a prefix cache that hit 3 of 4 lookups, and nothing swapped (as a v1 engine reports them)
        sb.append("# TYPE vllm:num_requests_swapped gauge\n");
        for (String m : models) {
            sb.append("vllm:num_requests_swapped{model_name=\"").append(labelValue(m)).append("\"} 0.0\n");
        }
        sb.append("# TYPE vllm:prefix_cache_queries_total counter\n");
        for (String m : models) {
            sb.append("vllm:prefix_cache_queries_total{model_name=\"").append(labelValue(m)).append("\"} 400.0\n");
        }
        sb.append("# TYPE vllm:prefix_cache_hits_total counter\n");
        for (String m : models) {
            sb.append("vllm:prefix_cache_hits_total{model_name=\"").append(labelValue(m)).append("\"} 300.0\n");
        }
        return sb.toString();
    }

    /**
     * An answer of one of the other endpoints, naming its path, model and server. On /v1/responses it is a whole
     * Responses API object and on /v1/messages a whole Anthropic message, so that the official SDKs read them.
     */
    static String other(String path, String quotedModel, String quotedServer) {
        String tail = ",\"path\":" + quote(path) + ",\"served_by\":" + quotedServer + "}";
        if (path.equals("/v1/responses")) {
            return response(quotedModel, "completed", "Hello from " + unquote(quotedServer), 3).replaceFirst("}$", "") + tail;
        }
        if (path.equals("/v1/messages")) {
            return "{\"id\":\"msg_fake\",\"type\":\"message\",\"role\":\"assistant\",\"model\":" + quotedModel
                    + ",\"content\":[{\"type\":\"text\",\"text\":" + quote("Hello from " + unquote(quotedServer)) + "}]"
                    + ",\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":3}" + tail;
        }
        return "{\"object\":\"fake.answer\",\"model\":" + quotedModel + ",\"usage\":{\"input_tokens\":5,\"output_tokens\":3}" + tail;
    }

    /** A Responses API object, as vLLM and OpenAI write it. */
    private static String response(String quotedModel, String status, String text, int outputTokens) {
        String output = text == null ? "[]" : "[{\"type\":\"message\",\"id\":\"msg_fake\",\"status\":\"completed\","
                + "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":" + quote(text) + ",\"annotations\":[]}]}]";
        return "{\"id\":\"resp_fake\",\"object\":\"response\",\"created_at\":1733000000,\"status\":\"" + status + "\","
                + "\"model\":" + quotedModel + ",\"output\":" + output + ",\"parallel_tool_calls\":true,\"tool_choice\":\"auto\","
                + "\"tools\":[],\"temperature\":1.0,\"top_p\":1.0,\"error\":null,\"incomplete_details\":null,"
                + "\"instructions\":null,\"metadata\":{},\"usage\":{\"input_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":0},"
                + "\"output_tokens\":" + outputTokens + ",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":"
                + (5 + outputTokens) + "}}";
    }

    private static String unquote(String quoted) {
        return quoted.length() >= 2 ? quoted.substring(1, quoted.length() - 1) : quoted;
    }

    /**
     * A stream of the Responses API or the Messages API, with the events the official SDKs expect: named events,
     * the text in deltas, the usage at the end.
     */
    static List<String> namedEvents(String path, String quotedModel, int deltas) {
        List<String> events = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < deltas; i++) {
            text.append('w').append(i).append(' ');
        }
        if (path.equals("/v1/responses")) {
            int seq = 0;
            events.add(event("response.created", "{\"type\":\"response.created\",\"sequence_number\":" + seq++
                    + ",\"response\":" + response(quotedModel, "in_progress", null, 0) + "}"));
            for (int i = 0; i < deltas; i++) {
                events.add(event("response.output_text.delta", "{\"type\":\"response.output_text.delta\",\"sequence_number\":"
                        + seq++ + ",\"item_id\":\"msg_fake\",\"output_index\":0,\"content_index\":0,\"delta\":\"w" + i
                        + " \",\"logprobs\":[]}"));
            }
            events.add(event("response.completed", "{\"type\":\"response.completed\",\"sequence_number\":" + seq
                    + ",\"response\":" + response(quotedModel, "completed", text.toString(), deltas) + "}"));
            return events;
        }
        events.add(event("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_fake\",\"type\":\"message\","
                + "\"role\":\"assistant\",\"model\":" + quotedModel + ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                + "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}"));
        events.add(event("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"));
        for (int i = 0; i < deltas; i++) {
            events.add(event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"w"
                    + i + " \"}}"));
        }
        events.add(event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"));
        events.add(event("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                + "\"usage\":{\"output_tokens\":" + deltas + "}}"));
        events.add(event("message_stop", "{\"type\":\"message_stop\"}"));
        return events;
    }

    /** vLLM's streamed transcription (or translation): one transcription.chunk per word, then [DONE]. */
    static List<String> transcriptionEvents(String quotedModel, int deltas) {
        List<String> events = new ArrayList<>();
        for (int i = 0; i < deltas; i++) {
            events.add("data: {\"id\":\"trsc-fake\",\"object\":\"transcription.chunk\",\"created\":1733000000,\"model\":"
                    + quotedModel + ",\"choices\":[{\"delta\":{\"content\":\"w" + i + " \"}}]}\n\n");
        }
        events.add("data: [DONE]\n\n");
        return events;
    }

    private static String event(String name, String data) {
        return "event: " + name + "\ndata: " + data + "\n\n";
    }

    static String error(int status, String type, String message) {
        return "{\"error\":{\"message\":" + quote(message) + ",\"type\":\"" + type + "\",\"code\":" + status + "}}";
    }

    private static String labelValue(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
