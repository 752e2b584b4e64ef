package io.github.camelllmrouter.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.backend.BackendState;
import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.catalogue.EngineTable;
import io.vertx.core.json.JsonObject;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

/**
 * The step before {@code GET /v1/models} ({@code process: { ref: modelCards }}): each served model's card as its
 * backend's own {@code /v1/models} has it (vLLM's {@code root}, {@code parent}, {@code max_model_len}, ...), read
 * again when older than 30 s without holding a thread, at most {@code timeoutMs} (a backend that does not answer
 * leaves the router's own card), into variable {@value #VARIABLE}.
 */
public class ModelCards extends AsyncProcessorSupport implements AsyncProcessor {

    public static final String VARIABLE = "modelCards";
    private long timeoutMs = 2000;
    private long maxAgeMs = 30_000;

    public void setTimeoutMs(long timeoutMs) {
        this.timeoutMs = timeoutMs;
    }

    public void setMaxAgeMs(long maxAgeMs) {
        this.maxAgeMs = maxAgeMs;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        LlmComponent llm = exchange.getContext().getComponent("llm", LlmComponent.class);
        Map<String, Set<String>> table = EngineTable.modelsByBackend(exchange.getContext());
        List<CompletableFuture<Void>> reads = new ArrayList<>();
        for (String backend : table.keySet()) {
            reads.add(llm.refreshModelCards(llm.state(backend), maxAgeMs));
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new))
                .completeOnTimeout(null, timeoutMs, TimeUnit.MILLISECONDS);
        if (all.isDone()) {
            exchange.setVariable(VARIABLE, cards(llm, table));
            callback.done(true);
            return true;
        }
        LlmCall call = LlmCall.of(exchange);
        all.whenComplete((v, e) -> call.onLoop(() -> {
            try {
                exchange.setVariable(VARIABLE, cards(llm, table));
            } finally {
                callback.done(false);
            }
        }));
        return false;
    }

    private static Map<String, Map<String, Object>> cards(LlmComponent llm, Map<String, Set<String>> table) {
        Map<String, Map<String, Object>> cards = new LinkedHashMap<>();
        table.forEach((backend, models) -> {
            BackendState state = llm.state(backend);
            for (String model : models) {
                JsonObject card = state.modelCards().get(model);
                if (card != null) {
                    cards.putIfAbsent(model, card.getMap());
                }
            }
        });
        return cards;
    }
}
