package io.github.camelllmrouter.openai;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

/**
 * One OpenAI request body, kept as the client's bytes. Parsing validates the whole document with Jackson's
 * streaming parser and remembers where the top-level {@code model} string sits, so that rewriting the model
 * (alias, fallback) splices only those bytes: every other field, its order and its formatting reach the
 * backend exactly as the client sent them (vLLM extras such as {@code top_k} or {@code guided_json} included).
 */
public final class LlmRequest {

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(200).build())
            .build();

    private final byte[] original;
    private final String requestedModel;
    private final int modelStart;   // offset of the model value's opening quote
    private final int modelEnd;     // offset just after its closing quote
    private final boolean stream;
    private final boolean includeUsage;
    private final int promptStart;  // offset of the messages/prompt/input value, -1 if none
    private final int promptEnd;

    private final boolean quoted;   // the model's bytes are a JSON string (false: a form field's raw value)
    private final String contentType;
    private String model;           // the model the next backend should see
    private byte[] body;            // original bytes with the current model spliced in (lazily)

    private LlmRequest(byte[] original, String model, int modelStart, int modelEnd, boolean stream,
                       boolean includeUsage, int promptStart, int promptEnd) {
        this(original, model, modelStart, modelEnd, stream, includeUsage, promptStart, promptEnd, true, "application/json");
    }

    private LlmRequest(byte[] original, String model, int modelStart, int modelEnd, boolean stream,
                       boolean includeUsage, int promptStart, int promptEnd, boolean quoted, String contentType) {
        this.quoted = quoted;
        this.contentType = contentType;
        this.promptStart = promptStart;
        this.promptEnd = promptEnd;
        this.original = original;
        this.requestedModel = model;
        this.model = model;
        this.modelStart = modelStart;
        this.modelEnd = modelEnd;
        this.stream = stream;
        this.includeUsage = includeUsage;
        this.body = original;
    }

    /**
     * Validates the body: a JSON object with a string {@code model}. Anything else is a 400 in OpenAI shape.
     */
    public static LlmRequest parse(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            throw OpenAiException.badRequest("invalid_json", null, "The request body is empty; expected a JSON object.");
        }
        String model = null;
        int start = -1;
        int end = -1;
        boolean stream = false;
        boolean includeUsage = false;
        int promptStart = -1;
        int promptEnd = -1;
        try (JsonParser p = JSON.createParser(bytes)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw OpenAiException.badRequest("invalid_type", null, "The request body must be a JSON object.");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                if ("model".equals(field)) {
                    if (v != JsonToken.VALUE_STRING) {
                        throw OpenAiException.badRequest("invalid_type", "model", "'model' must be a string.");
                    }
                    model = p.getText();
                    start = (int) p.currentTokenLocation().getByteOffset();
                    end = (int) p.currentLocation().getByteOffset();
                } else if ("stream".equals(field)) {
                    stream = v == JsonToken.VALUE_TRUE;
                } else if ("stream_options".equals(field) && v == JsonToken.START_OBJECT) {
                    includeUsage = readIncludeUsage(p);
                } else if (promptStart < 0 && ("messages".equals(field) || "prompt".equals(field) || "input".equals(field))) {
                    promptStart = (int) p.currentTokenLocation().getByteOffset();
                    p.skipChildren();
                    promptEnd = (int) p.currentLocation().getByteOffset();
                } else {
                    p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw OpenAiException.badRequest("invalid_json", null, "The request body is not valid JSON.");
            }
        } catch (JsonProcessingException e) {
            throw OpenAiException.badRequest("invalid_json", null,
                    "The request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw OpenAiException.badRequest("invalid_json", null, "The request body could not be read.");
        }
        if (model == null) {
            throw OpenAiException.badRequest("missing_required_parameter", "model",
                    "you must provide a model parameter");
        }
        if (model.isBlank()) {
            throw OpenAiException.badRequest("invalid_value", "model", "'model' must not be empty.");
        }
        return new LlmRequest(bytes, model, start, end, stream, includeUsage, promptStart, promptEnd);
    }

    /**
     * A body as its content type says: {@code multipart/form-data} (the audio and image endpoints), whose
     * {@code model} form field is read and rewritten in place, or JSON.
     */
    public static LlmRequest parse(byte[] bytes, String contentType) {
        if (!MultipartForm.is(contentType)) {
            return parse(bytes);
        }
        MultipartForm.Fields fields = MultipartForm.scan(bytes == null ? new byte[0] : bytes, contentType);
        if (fields.model() == null) {
            throw OpenAiException.badRequest("missing_required_parameter", "model", "you must provide a model parameter");
        }
        String model = new String(bytes, fields.model().start(), fields.model().end() - fields.model().start(),
                StandardCharsets.UTF_8).trim();
        if (model.isEmpty()) {
            throw OpenAiException.badRequest("invalid_value", "model", "'model' must not be empty.");
        }
        boolean stream = fields.stream() != null && "true".equalsIgnoreCase(new String(bytes, fields.stream().start(),
                fields.stream().end() - fields.stream().start(), StandardCharsets.ISO_8859_1).trim());
        return new LlmRequest(bytes, model, fields.model().start(), fields.model().end(), stream, false, -1, -1, false,
                contentType);
    }

    /** The content type the body goes to the backend with (the client's, for a form: its boundary is in it). */
    public String contentType() {
        return contentType;
    }

    private static boolean readIncludeUsage(JsonParser p) throws IOException {
        boolean include = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            if ("include_usage".equals(field)) {
                include = v == JsonToken.VALUE_TRUE;
            } else {
                p.skipChildren();
            }
        }
        return include;
    }

    /** The model the client asked for. */
    public String requestedModel() {
        return requestedModel;
    }

    /** The model the next backend will see in the body. */
    public String model() {
        return model;
    }

    public boolean stream() {
        return stream;
    }

    public boolean includeUsage() {
        return includeUsage;
    }

    /** Rewrites the {@code model} field; only its value's bytes change. */
    public void rewriteModel(String newModel) {
        if (newModel.equals(model)) {
            return;
        }
        model = newModel;
        if (newModel.equals(requestedModel)) {
            body = original;
            return;
        }
        byte[] value = quoted ? ("\"" + new String(JsonStringEncoder.getInstance().quoteAsString(newModel)) + "\"")
                .getBytes(StandardCharsets.UTF_8) : newModel.getBytes(StandardCharsets.UTF_8);
        byte[] out = Arrays.copyOf(original, original.length - (modelEnd - modelStart) + value.length);
        System.arraycopy(value, 0, out, modelStart, value.length);
        System.arraycopy(original, modelEnd, out, modelStart + value.length, original.length - modelEnd);
        body = out;
    }

    /**
     * The first {@code length} bytes of the prompt as the client wrote it ({@code messages}, {@code prompt} or
     * {@code input}), or null when the prompt is shorter: requests that share it share a KV-cache prefix.
     */
    public String promptPrefix(int length) {
        if (promptStart < 0 || promptEnd - promptStart < length) {
            return null;
        }
        return new String(original, promptStart, length, StandardCharsets.ISO_8859_1);
    }

    /** Bytes of the prompt as the client wrote it (messages, prompt or input); 0 for a form or without one. */
    public int promptBytes() {
        return promptStart < 0 ? 0 : promptEnd - promptStart;
    }

    /** The bytes to send to the backend. */
    public byte[] body() {
        return body;
    }
}
