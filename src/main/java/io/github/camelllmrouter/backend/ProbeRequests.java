package io.github.camelllmrouter.backend;

import java.util.Map;

/**
 * The smallest real request of each vLLM model type, as the vLLM router's {@code request} health probe sends:
 * path and body, {@code %s} being the model's name as a JSON string. A transcription needs an audio file, so that
 * type has none (its model list answering is the probe).
 */
final class ProbeRequests {

    private static final String[] CHAT = {"/v1/chat/completions",
        "{\"model\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],\"max_tokens\":1}"};
    private static final Map<String, String[]> BY_TYPE = Map.of(
            "embeddings", new String[] {"/v1/embeddings", "{\"model\":%s,\"input\":\"ping\"}"},
            "completion", new String[] {"/v1/completions", "{\"model\":%s,\"prompt\":\"ping\",\"max_tokens\":1}"},
            "rerank", new String[] {"/v1/rerank", "{\"model\":%s,\"query\":\"ping\",\"documents\":[\"ping\"]}"},
            "score", new String[] {"/v1/score", "{\"model\":%s,\"text_1\":\"ping\",\"text_2\":\"ping\"}"},
            "messages", new String[] {"/v1/messages",
                "{\"model\":%s,\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}"});

    private ProbeRequests() {
    }

    /** {path, body} for a model of {@code type} (null: chat), or null when the type has no small request. */
    static String[] of(String type, String quotedModel) {
        if ("transcription".equals(type)) {
            return null;
        }
        String[] p = BY_TYPE.getOrDefault(type == null ? "chat" : type, CHAT);
        return new String[] {p[0], p[1].formatted(quotedModel)};
    }
}
