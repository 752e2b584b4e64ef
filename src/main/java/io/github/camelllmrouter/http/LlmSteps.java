package io.github.camelllmrouter.http;

import java.util.List;

import io.github.camelllmrouter.backend.BackendException;
import io.github.camelllmrouter.catalogue.ModelComponent;
import io.github.camelllmrouter.catalogue.ModelConsumer;
import io.github.camelllmrouter.openai.LlmRequest;
import io.github.camelllmrouter.openai.OpenAiException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.github.camelllmrouter.backend.LlmComponent;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;
import org.apache.camel.RuntimeCamelException;
import org.apache.camel.component.direct.DirectConsumerNotAvailableException;
import org.apache.camel.component.netty.http.NettyHttpMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The small Java steps the routes call by name ({@code bean: { ref: llm, method: ... }}): take the request off
 * the wire, validate it, find the model's route, and rewrite the model for a fallback. The three every request
 * passes are also processors of their own ({@code process: { ref: llm.acceptRequest }}, {@code llm.parseRequest},
 * {@code llm.resolveModel}), bound when this bean joins its context ({@link StepProcessors}).
 */
public class LlmSteps implements CamelContextAware {

    public static final String ACCEPT = "llm.acceptRequest";
    public static final String PARSE = "llm.parseRequest";
    public static final String RESOLVE = "llm.resolveModel";

    private static final Logger LOG = LoggerFactory.getLogger(LlmSteps.class);

    private static final String REQUEST_ID = "x-request-id";

    private int maxFallbackHops = 4;
    private String rootPath = "";
    private volatile ModelComponent models;
    private volatile LlmComponent llmComponent;
    private CamelContext context;

    @Override
    public CamelContext getCamelContext() {
        return context;
    }

    @Override
    public void setCamelContext(CamelContext context) {
        if (context != null && this.context != context) {
            this.context = context;
            StepProcessors.bind(context, ACCEPT, this::accept);
            StepProcessors.bind(context, PARSE, this::parse);
            StepProcessors.bind(context, RESOLVE, this::resolve);
        }
    }

    /** --root-path: a prefix (like /llm) under which the API is also served. */
    public void setRootPath(String rootPath) {
        String r = rootPath == null ? "" : rootPath.trim();
        while (r.endsWith("/")) {
            r = r.substring(0, r.length() - 1);
        }
        this.rootPath = r.isEmpty() || r.startsWith("/") ? r : "/" + r;
    }

    public void setMaxFallbackHops(int maxFallbackHops) {
        this.maxFallbackHops = maxFallbackHops;
    }

    /** Remembers the client's connection, path and headers; sets variable {@code path}. */
    public void accept(Exchange exchange) {
        FullHttpRequest request = exchange.getIn(NettyHttpMessage.class).getHttpRequest();
        String path;
        try {
            path = new QueryStringDecoder(request.uri()).path();
        } catch (IllegalArgumentException badEscape) {
            path = request.uri(); // answered as an unknown path (404), not left hanging
        }
        // --root-path: served under a prefix behind a proxy; /prefix/v1/models is /v1/models
        if (!rootPath.isEmpty() && path.startsWith(rootPath + "/")) {
            path = path.substring(rootPath.length());
        }
        // the headers forwarded to backends: the request's own (its release when the Netty handler returns frees
        // the body's buffer, not the headers), changed here for x-request-id and by authenticate for the client's key
        HttpHeaders headers = request.headers();
        // x-request-id: the client's, or one made here; returned to the client and forwarded to the backend
        String requestId = headers.get(REQUEST_ID);
        if (requestId == null || requestId.isBlank() || requestId.length() > 200) {
            requestId = RequestIds.next();
            headers.set(REQUEST_ID, requestId);
        }
        LlmCall call = new LlmCall(exchange.getIn(NettyHttpMessage.class).getHeader(
                "CamelNettyChannelHandlerContext", ChannelHandlerContext.class).channel(),
                HttpUtil.isKeepAlive(request), path, headers, requestId);
        call.method(request.method().name());
        // ?id=<engine>: pinned to that engine (GET /engines lists them), as in the vLLM router
        String engine = engineParameter(request.uri());
        if (engine != null) {
            call.pinnedEngine(engine);
        }
        call.routerMetrics(component(exchange).metrics());
        exchange.setProperty(LlmCall.PROPERTY, call);
        exchange.setVariable("path", path);
    }

    static String engineParameter(String uri) {
        if (uri.indexOf('?') < 0) {
            return null;
        }
        try {
            List<String> id = new QueryStringDecoder(uri).parameters().get("id");
            return id == null || id.isEmpty() || id.get(0).isBlank() ? null : id.get(0);
        } catch (IllegalArgumentException badEscape) {
            return null;
        }
    }

    /** Validates method and body; sets variables {@code model} and {@code stream}. */
    public void parse(Exchange exchange) {
        FullHttpRequest request = exchange.getIn(NettyHttpMessage.class).getHttpRequest();
        // GET /v1/audio/voices carries its model in a JSON body, as the vLLM router reads it
        boolean get = HttpMethod.GET.equals(request.method()) && "/v1/audio/voices".equals(exchange.getVariable("path", String.class));
        if (!HttpMethod.POST.equals(request.method()) && !get) {
            throw methodNotAllowed(request.method().name(), "POST");
        }
        // (bodies over router.max-request-bytes were refused by the RequestSizeGuard already); a multipart form
        // (audio, image edits) keeps its bytes, its model field read and rewritten in place
        LlmRequest parsed = LlmRequest.parse(ByteBufUtil.getBytes(request.content()),
                request.headers().get(HttpHeaderNames.CONTENT_TYPE));
        LlmCall call = LlmCall.of(exchange);
        call.request(parsed);

        exchange.setVariable("model", parsed.requestedModel());
        exchange.setVariable("stream", parsed.stream());
    }

    /** The content-based router's table: sets variable {@code modelRoute}, or answers 404 for an unknown model. */
    public void resolve(Exchange exchange) {
        String model = exchange.getVariable("model", String.class);
        ModelConsumer route = model == null ? null : models(exchange).current(model);
        if (route == null) {
            throw OpenAiException.modelNotFound(model);
        }
        // the endpoint's own (normalized) URI: toD then finds it without parsing a URI per request
        exchange.setVariable("modelRoute", route.getEndpoint().getEndpointUri());
        // only now is the model a known one: client-chosen names never become metric labels
        LlmCall call = LlmCall.of(exchange);
        call.metrics(component(exchange).metrics());
        call.metrics().inFlight(model, 1);
        call.span(RouterTracing.startRequest(call));
    }

    /** An alias route's step: the backend sees the real model's name. */
    public void alias(Exchange exchange, String target) {
        LlmCall.of(exchange).request().rewriteModel(target);
        exchange.setVariable("model", target);
    }

    /**
     * A circuit breaker's {@code onFallback} step: every backend of the current model is out, so the request goes
     * to {@code target}, with {@code model} rewritten in the body. The hop guard stops a loop the catalogue could
     * not see (routes edited by hand).
     */
    public void fallback(Exchange exchange, String target) {
        LlmCall call = LlmCall.of(exchange);
        String from = call.request().model();
        int hop = call.nextHop();
        Throwable cause = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        // an open breaker calls the fallback without an exception of its own
        String reason = cause != null ? reasonOf(cause) : "breaker_" + exchange.getProperty(
                ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_STATE, "open", String.class).toLowerCase();
        LlmComponent llm = component(exchange);
        if (call.pinnedEngine() != null) {
            // ?id=<engine>: that engine's answer or failure, never another model's (as in the vLLM router)
            LOG.info("no fallback request={} from={} to={}: the request is pinned to engine {}", call.requestId(), from, target,
                    call.pinnedEngine());
            throw cause != null ? new RuntimeCamelException(rootCause(cause)) : new OpenAiException(503, "server_error",
                    "model_unavailable", null, "The model '" + from + "' is unavailable (its circuit breaker is open).");
        }
        if (call.attempts() >= llm.getMaxAttemptsPerRequest() || call.remainingMs(llm.getRequestTimeBudgetMs()) <= 0) {
            LOG.warn("no fallback request={} from={} to={}: the request's attempt or time budget is spent", call.requestId(), from, target);
            throw new RuntimeCamelException(cause != null ? rootCause(cause) : new IllegalStateException("budget spent"));
        }
        if (hop > maxFallbackHops) {
            LOG.warn("fallback refused request={} model={} to={} hop={} (limit {})", call.requestId(), from, target, hop, maxFallbackHops);
            throw new OpenAiException(503, "server_error", "fallback_limit", null,
                    "No model could answer: the fallback chain from '" + call.request().requestedModel()
                    + "' exceeded " + maxFallbackHops + " hops.");
        }
        if (!models(exchange).serves(target)) {
            LOG.warn("no fallback request={} from={} to={}: no route serves the fallback model", call.requestId(), from, target);
            throw new OpenAiException(503, "server_error", "model_unavailable", null,
                    "The model '" + from + "' is unavailable and its fallback model '" + target + "' is not served.");
        }
        LOG.warn("fallback request={} from={} to={} reason={}", call.requestId(), from, target, reason);
        llm.metrics().fallback(from, target, reason);
        call.trail("fallback " + from + " -> " + target + ": " + reason);
        call.fallbackFrom(from);
        call.request().rewriteModel(target);
        exchange.setVariable("model", target);
    }

    private ModelComponent models(Exchange exchange) {
        ModelComponent m = models;
        if (m == null) {
            m = ModelComponent.of(exchange.getContext());
            models = m;
        }
        return m;
    }

    private LlmComponent component(Exchange exchange) {
        LlmComponent c = llmComponent;
        if (c == null) {
            c = exchange.getContext().getComponent("llm", LlmComponent.class);
            llmComponent = c;
        }
        return c;
    }

    /** The router's own failure under Camel's wrappers (the circuit breaker wraps what its steps threw). */
    static Throwable rootCause(Throwable t) {
        Throwable current = t;
        while (current != null) {
            if (current instanceof BackendException || current instanceof OpenAiException
                || current instanceof CallNotPermittedException
                || current instanceof DirectConsumerNotAvailableException) {
                return current;
            }
            if (current.getCause() == current) {
                break;
            }
            current = current.getCause();
        }
        return t;
    }

    static String reasonOf(Throwable thrown) {
        Throwable cause = rootCause(thrown);
        if (cause instanceof BackendException b) {
            return b.reason();
        }
        if (cause instanceof CallNotPermittedException) {
            return "breaker_open";
        }
        return cause.getClass().getSimpleName();
    }

    /** Answers 405 for a wrong method on the router's own endpoints. */
    public void requireGet(Exchange exchange) {
        FullHttpRequest request = exchange.getIn(NettyHttpMessage.class).getHttpRequest();
        if (!HttpMethod.GET.equals(request.method()) && !HttpMethod.HEAD.equals(request.method())) {
            throw methodNotAllowed(request.method().name(), "GET");
        }
    }

    /** Answers 404 for a path the router does not serve. */
    public void notFound(Exchange exchange) {
        throw new OpenAiException(404, "invalid_request_error", "not_found", null,
                "Unknown path '" + exchange.getVariable("path", String.class) + "'.");
    }

    private static OpenAiException methodNotAllowed(String method, String allowed) {
        return new OpenAiException(405, "invalid_request_error", "method_not_allowed", null,
                "Method " + method + " is not allowed here; use " + allowed + ".");
    }
}
