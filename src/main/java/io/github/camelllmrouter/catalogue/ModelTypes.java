package io.github.camelllmrouter.catalogue;

import java.util.List;

/** The vLLM router's --static-model-types values. */
public final class ModelTypes {

    public static final List<String> KNOWN = List.of("chat", "completion", "embeddings", "rerank", "score",
            "transcription", "vision", "messages");

    private ModelTypes() {
    }
}
