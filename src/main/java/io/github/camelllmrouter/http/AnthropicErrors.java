package io.github.camelllmrouter.http;

import java.io.IOException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Errors on {@code /v1/messages} in the Anthropic API's shape ({@code {"type":"error","error":{"type","message"}}}),
 * so the Anthropic SDKs raise their own error classes; a backend's answer already in that shape is kept.
 */
final class AnthropicErrors {

    private static final ObjectMapper JSON = new ObjectMapper();

    private AnthropicErrors() {
    }

    static byte[] of(int status, byte[] openAiShaped) {
        String message = "The router could not answer.";
        try {
            JsonNode node = JSON.readTree(openAiShaped);
            if (node != null && "error".equals(node.path("type").asText())) {
                return openAiShaped;
            }
            if (node != null && node.path("error").path("message").isTextual()) {
                message = node.path("error").path("message").asText();
            }
        } catch (IOException notJson) {
            // keep the default message
        }
        ObjectNode answer = JSON.createObjectNode().put("type", "error");
        answer.putObject("error").put("type", type(status)).put("message", message);
        try {
            return JSON.writeValueAsBytes(answer);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String type(int status) {
        return switch (status) {
            case 400, 405, 422 -> "invalid_request_error";
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503, 529 -> "overloaded_error";
            default -> "api_error";
        };
    }
}
