package io.github.camelllmrouter.http;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import io.github.camelllmrouter.backend.BackendClient;
import io.github.camelllmrouter.backend.BackendState;
import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.openai.OpenAiException;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.QueryStringEncoder;
import io.vertx.core.http.HttpMethod;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.Exchange;
import org.apache.camel.component.netty.http.NettyHttpMessage;
import org.apache.camel.support.AsyncProcessorSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vLLM router's engine controls ({@code process: { ref: engines }}): {@code POST /sleep?id=<engine>},
 * {@code POST /wake_up?id=<engine>} and {@code GET /is_sleeping?id=<engine>} go to that engine (its other query
 * parameters, such as /sleep's {@code level}, and the body with them). An engine put to sleep here leaves rotation
 * until it is woken here; {@code GET /engines} lists the engine ids.
 */
public class EngineControls extends AsyncProcessorSupport implements AsyncProcessor {

    private static final Logger LOG = LoggerFactory.getLogger(EngineControls.class);
    private long timeoutMs = 60000;

    /** How long an engine may take to answer a control (sleeping and waking move the weights: it takes a while). */
    public void setTimeoutMs(long timeoutMs) {
        this.timeoutMs = timeoutMs;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        LlmCall call = LlmCall.of(exchange);
        String path = exchange.getVariable("path", String.class);
        FullHttpRequest request = exchange.getIn(NettyHttpMessage.class).getHttpRequest();
        boolean get = path.equals("/is_sleeping");
        String method = request.method().name();
        if (get ? !method.equals("GET") && !method.equals("HEAD") : !method.equals("POST")) {
            exchange.setException(new OpenAiException(405, "invalid_request_error", "method_not_allowed", null,
                    "Method " + method + " is not allowed here; use " + (get ? "GET" : "POST") + "."));
            callback.done(true);
            return true;
        }
        String engine = call.pinnedEngine();
        if (engine == null) {
            exchange.setException(OpenAiException.badRequest("missing_required_parameter", "id",
                    "Invalid request: missing target Engine Id (?id=<engine>, see GET /engines)."));
            callback.done(true);
            return true;
        }
        LlmComponent llm = exchange.getContext().getComponent("llm", LlmComponent.class);
        BackendState state = llm.states().stream().filter(s -> s.engineId().equals(engine)).findFirst().orElse(null);
        if (state == null) {
            exchange.setException(OpenAiException.badRequest("invalid_value", "id", "Engine with Id " + engine + " not found."));
            callback.done(true);
            return true;
        }
        String body = request.content().isReadable() ? new String(ByteBufUtil.getBytes(request.content()), StandardCharsets.UTF_8) : null;
        llm.client().control(URI.create(state.id()), get ? HttpMethod.GET : HttpMethod.POST, upstream(path, request.uri()),
                body, timeoutMs).whenComplete((answer, error) -> call.onLoop(() -> {
                    try {
                        answer(exchange, llm, state, engine, path, get, answer, error);
                    } finally {
                        callback.done(false);
                    }
                }));
        return false;
    }

    private static void answer(Exchange exchange, LlmComponent llm, BackendState state, String engine, String path, boolean get,
                               BackendClient.ControlAnswer answer, Throwable error) {
        if (error != null || answer.status() >= 400) {
            String why = error != null ? error.toString() : "it answered " + answer.status();
            LOG.warn("engine control {} engine={} ({}) failed: {}", path, engine, state.id(), why);
            exchange.setException(new OpenAiException(502, "server_error", "engine_control_failed", null,
                    "The engine " + engine + " did not carry out " + path + ": " + why + "."));
        } else {
            if (path.equals("/sleep")) {
                llm.asleep(state, true);
            } else if (path.equals("/wake_up")) {
                llm.asleep(state, false);
            }
            LOG.info("engine control {} engine={} ({}): done", path, engine, state.id());
            exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, answer.status());
            exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, "application/json");
            exchange.getMessage().setBody(get ? answer.body()
                    : "{\"status\":\"success\"}".getBytes(StandardCharsets.UTF_8));
        }
    }

    /** The engine's path with the client's query parameters but {@code id} (the router's own). */
    static String upstream(String path, String uri) {
        QueryStringEncoder out = new QueryStringEncoder(path);
        for (Map.Entry<String, List<String>> p : new QueryStringDecoder(uri).parameters().entrySet()) {
            if (!p.getKey().equals("id")) {
                p.getValue().forEach(v -> out.addParam(p.getKey(), v));
            }
        }
        return out.toString();
    }
}
