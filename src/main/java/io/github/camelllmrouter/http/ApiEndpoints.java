package io.github.camelllmrouter.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.access.AdminAccess;
import io.github.camelllmrouter.access.ApiKeys;
import io.github.camelllmrouter.access.RateLimits;
import io.github.camelllmrouter.backend.BackendState;
import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.catalogue.DynamicConfig;
import io.github.camelllmrouter.catalogue.EngineTable;
import io.github.camelllmrouter.catalogue.LiveRoutes;
import io.github.camelllmrouter.catalogue.ModelComponent;
import io.github.camelllmrouter.openai.OpenAiException;
import io.github.camelllmrouter.backend.VllmRouterGauges;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.camel.Exchange;

/** The router's own answers: {@code GET /v1/models}, {@code /health} and {@code /metrics}. */
public class ApiEndpoints {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final long created = System.currentTimeMillis() / 1000;

    /**
     * OpenAI's model list: every served model and alias once (with keys on, the caller's key's models). A model's
     * card is its backend's own, as vLLM wrote it ({@code root}, {@code parent}, {@code max_model_len}, ...);
     * an alias, or a model whose backends have not answered their model list, gets a card of the router's.
     */
    public void models(Exchange exchange) throws JsonProcessingException {
        List<Map<String, Object>> data = new ArrayList<>();
        ApiKeys keys = ApiKeys.of(exchange.getContext());
        Map<String, Map<String, Object>> cards = cards(exchange);
        for (String name : ModelComponent.of(exchange.getContext()).models(exchange.getContext())) {
            if (keys == null || keys.visible(exchange, name)) {
                data.add(cards.getOrDefault(name, model(name)));
            }
        }
        json(exchange, 200, Map.of("object", "list", "data", data));
    }

    /** {@code GET /v1/models/{id}}: one served model or alias (the id may contain '/'), or OpenAI's 404. */
    public void model(Exchange exchange) throws JsonProcessingException {
        String id = exchange.getVariable("path", String.class).substring("/v1/models/".length());
        ApiKeys keys = ApiKeys.of(exchange.getContext());
        if (!ModelComponent.of(exchange.getContext()).models(exchange.getContext()).contains(id)
            || keys != null && !keys.visible(exchange, id)) {
            throw OpenAiException.modelNotFound(id);
        }
        json(exchange, 200, cards(exchange).getOrDefault(id, model(id)));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> cards(Exchange exchange) {
        Object cards = exchange.getVariable(ModelCards.VARIABLE);
        return cards instanceof Map<?, ?> m ? (Map<String, Map<String, Object>>) m : Map.of();
    }

    /** {@code GET /engines}, as the vLLM router answers it: each engine's id, its models and when it was added. */
    public void engines(Exchange exchange) throws JsonProcessingException {
        LlmComponent llm = exchange.getContext().getComponent("llm", LlmComponent.class);
        List<Map<String, Object>> engines = new ArrayList<>();
        for (Map.Entry<String, Set<String>> e : EngineTable.modelsByBackend(exchange.getContext()).entrySet()) {
            BackendState state = llm.state(e.getKey());
            Map<String, Object> card = new LinkedHashMap<>();
            card.put("engine_id", state != null ? state.engineId() : e.getKey());
            card.put("serving_models", List.copyOf(e.getValue()));
            card.put("created", state != null ? state.createdEpochSeconds() : created);
            engines.add(card);
        }
        json(exchange, 200, engines);
    }

    /** {@code GET /version}, as the vLLM router answers it. */
    public void version(Exchange exchange) throws JsonProcessingException {
        json(exchange, 200, Map.of("version", RouterVersion.get()));
    }

    private Map<String, Object> model(String name) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", name);
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "camel-llm-router");
        return m;
    }

    /**
     * 200 while the router can serve; lists models and every backend's state. 503 "starting" until every route
     * has started (the HTTP port binds before the model routes after it do), so a readiness probe waits, and
     * "stopping" once shutdown has begun.
     */
    public void health(Exchange exchange) throws JsonProcessingException {
        Map<String, Object> body = new LinkedHashMap<>();
        if (!exchange.getContext().isStarted() || exchange.getContext().isStopping()) {
            body.put("status", exchange.getContext().isStopping() ? "stopping" : "starting");
            json(exchange, 503, body);
            return;
        }
        List<String> models = ModelComponent.of(exchange.getContext()).models(exchange.getContext());
        body.put("status", models.isEmpty() ? "no_models" : "healthy");
        AdminAccess admin = exchange.getContext().getRegistry().lookupByNameAndType("admin", AdminAccess.class);
        if (admin != null && !admin.detailed(exchange)) {
            json(exchange, 200, body); // the status alone: backends and config are for the admin key or port
            return;
        }
        body.put("models", models);
        List<Map<String, Object>> backends = new ArrayList<>();
        LlmComponent llm = exchange.getContext().getComponent("llm", LlmComponent.class);
        for (BackendState s : llm.states()) {
            backends.add(s.describe());
        }
        body.put("backends", backends);
        LiveRoutes live = exchange.getContext().getRegistry().lookupByNameAndType(LiveRoutes.BEAN, LiveRoutes.class);
        if (live != null) {
            body.put("routes", live.describe());
        }
        ApiKeys keys = ApiKeys.of(exchange.getContext());
        if (keys != null && keys.current() != null) {
            body.put("api_keys", keys.describe());
            RateLimits limits = RateLimits.of(exchange.getContext());
            if (limits != null) {
                body.put("rate_limits", limits.describe());
            }
        }
        DynamicConfig dynamic = exchange.getContext().getRegistry().lookupByNameAndType(DynamicConfig.BEAN, DynamicConfig.class);
        if (dynamic != null) {
            body.put("dynamic_config", dynamic.current());
        }
        json(exchange, 200, body);
    }

    /** Prometheus text exposition of the router's registry. */
    public void metrics(Exchange exchange) {
        PrometheusMeterRegistry registry = exchange.getContext().getRegistry().findSingleByType(PrometheusMeterRegistry.class);
        LiveRoutes live = exchange.getContext().getRegistry().lookupByNameAndType(LiveRoutes.BEAN, LiveRoutes.class);
        if (registry != null && live != null && registry.find("llm_router_route_reloads").functionCounter() == null) {
            FunctionCounter.builder("llm_router_route_reloads", live, LiveRoutes::succeeded)
                    .description("Route changes (files in routes/, dynamic config) applied or refused, by result")
                    .tag("result", "succeeded").register(registry);
            FunctionCounter.builder("llm_router_route_reloads", live, LiveRoutes::failed)
                    .description("Route changes (files in routes/, dynamic config) applied or refused, by result")
                    .tag("result", "failed").register(registry);
        }
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
        String gauges = VllmRouterGauges.text(exchange.getContext().getComponent("llm", LlmComponent.class).states());
        exchange.getMessage().setBody(registry == null ? gauges : registry.scrape() + gauges);
    }

    private static void json(Exchange exchange, int status, Object body) throws JsonProcessingException {
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, "application/json");
        exchange.getMessage().setBody(JSON.writeValueAsBytes(body));
    }
}
