package io.github.camelllmrouter.openai;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

/**
 * An error the router answers itself, rendered as OpenAI's {@code {"error":{"message","type","param","code"}}}.
 * Thrown from beans in the routes; the error route configuration turns it into the HTTP answer.
 */
public class OpenAiException extends RuntimeException {

    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public OpenAiException(int status, String type, String code, String param, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
    }

    public static OpenAiException badRequest(String code, String param, String message) {
        return new OpenAiException(400, "invalid_request_error", code, param, message);
    }

    public static OpenAiException modelNotFound(String model) {
        return new OpenAiException(404, "invalid_request_error", "model_not_found", "model",
                "The model '" + model + "' does not exist or is not served by this router.");
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String code() {
        return code;
    }

    public String param() {
        return param;
    }

    public byte[] toJson() {
        return json(getMessage(), type, param, code).getBytes(StandardCharsets.UTF_8);
    }

    /** The OpenAI error body; {@code null} param/code are written as JSON null, as OpenAI does. */
    public static String json(String message, String type, String param, String code) {
        return "{\"error\":{\"message\":" + quote(message) + ",\"type\":" + quote(type)
               + ",\"param\":" + quote(param) + ",\"code\":" + quote(code) + "}}";
    }

    private static String quote(String s) {
        if (s == null) {
            return "null";
        }
        return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(s)) + "\"";
    }
}
