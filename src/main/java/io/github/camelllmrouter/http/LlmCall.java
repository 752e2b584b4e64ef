package io.github.camelllmrouter.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.github.camelllmrouter.access.ApiKey;
import io.github.camelllmrouter.access.RateGrant;
import io.github.camelllmrouter.backend.BackendState;
import io.github.camelllmrouter.backend.RouterMetrics;
import io.github.camelllmrouter.openai.LlmRequest;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.opentelemetry.api.trace.Span;
import org.apache.camel.Exchange;

/**
 * What the router knows about one client request while it is routed: where to answer, what to forward,
 * and the trail of attempts (for the response headers, logs and metrics). Kept in one exchange property so
 * it survives the circuit breaker's exchange copies.
 */
public final class LlmCall {

    public static final String PROPERTY = "llmCall";

    private final Channel channel;
    private final boolean keepAlive;
    private final String path;
    private final HttpHeaders clientHeaders;
    private final long startNanos = System.nanoTime();
    private final String requestId;
    private final AtomicLong backendNanos = new AtomicLong();

    private volatile LlmRequest request;
    private volatile int attempts;
    private volatile int hops;
    private volatile String servedBackend;
    private volatile String servedModel;
    private volatile BackendState servedState;
    private volatile long servedSentNanos;
    private volatile String fallbackFrom;
    private volatile Long retryAfterSeconds;
    private volatile ApiKey apiKey;
    private volatile String pinnedEngine;
    private volatile RateGrant grant;
    private volatile Map<String, String> limitHeaders = Map.of();
    private volatile boolean trial;
    private volatile String method;
    private volatile RouterMetrics routerMetrics;
    private final List<String> trail = new ArrayList<>();
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile RouterMetrics metrics;
    private volatile Span span;

    public LlmCall(Channel channel, boolean keepAlive, String path, HttpHeaders clientHeaders, String requestId) {
        this.requestId = requestId;
        this.channel = channel;
        // one listener per request, removed once it is answered (keep-alive connections carry many requests)
        channel.closeFuture().addListener(onClose);
        this.keepAlive = keepAlive;
        this.path = path;
        this.clientHeaders = clientHeaders;
    }

    public static LlmCall of(Exchange exchange) {
        return exchange.getProperty(PROPERTY, LlmCall.class);
    }

    public Channel channel() {
        return channel;
    }

    public boolean keepAlive() {
        return keepAlive;
    }

    public String path() {
        return path;
    }

    public HttpHeaders clientHeaders() {
        return clientHeaders;
    }

    public long startNanos() {
        return startNanos;
    }

    /** True the first time only: the request's metrics and access log are recorded once. */
    public boolean finishOnce() {
        return finished.compareAndSet(false, true);
    }

    public RouterMetrics metrics() {
        return metrics;
    }

    public void metrics(RouterMetrics metrics) {
        this.metrics = metrics;
    }

    /** The request's trace span, or null when tracing is off. */
    public Span span() {
        return span;
    }

    void span(Span span) {
        this.span = span;
    }

    private final CompletableFuture<Void> clientGone = new CompletableFuture<>();
    private final GenericFutureListener<Future<? super Void>> onClose =
            f -> clientGone.complete(null);

    /** Stops watching the client's connection (the request is answered). */
    public void answered() {
        channel.closeFuture().removeListener(onClose);
    }

    /** Completes when the client's connection closes (watched from accept on). */
    public CompletableFuture<Void> clientGone() {
        return clientGone;
    }

    public String requestId() {
        return requestId;
    }

    /** Adds time spent waiting on a backend (request sent to headers, or to the whole body). */
    public void addBackendNanos(long nanos) {
        backendNanos.addAndGet(nanos);
    }

    private volatile long answerOverheadNanos = -1;

    /**
     * The time the router added to this answer: elapsed time, up to the answer's head, minus the time spent
     * waiting on backends; what follows the head (the body of a plain answer, the chunks of a stream) is the
     * backend's time relayed. Fixed the first time it is asked, when the head is written, so the
     * x-llm-router-overhead-ms header, the llm_router_overhead_seconds histogram and the access log agree.
     */
    public long answerOverheadNanos() {
        long v = answerOverheadNanos;
        if (v < 0) {
            v = overheadNanos();
            answerOverheadNanos = v;
        }
        return v;
    }

    /** The time the router itself added so far: elapsed time minus time spent waiting on backends. */
    public long overheadNanos() {
        return Math.max(0, System.nanoTime() - startNanos - backendNanos.get());
    }

    /** What is left of the request's time budget. */
    public long remainingMs(long budgetMs) {
        return budgetMs - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    public LlmRequest request() {
        return request;
    }

    public void request(LlmRequest request) {
        this.request = request;
    }

    public int attempts() {
        return attempts;
    }

    public synchronized int nextAttempt() {
        return ++attempts;
    }

    public int hops() {
        return hops;
    }

    public synchronized int nextHop() {
        return ++hops;
    }

    public String servedBackend() {
        return servedBackend;
    }

    public String servedModel() {
        return servedModel;
    }

    /** @param sentNanos when the call that served was sent (a stream broken later is that call's failure) */
    public void served(String backend, String model, BackendState state, long sentNanos) {
        this.servedBackend = backend;
        this.servedModel = model;
        this.servedState = state;
        this.servedSentNanos = sentNanos;
    }

    /** When the call that served was sent. */
    public long servedSentNanos() {
        return servedSentNanos;
    }

    /** The state of the backend that served, or null. */
    public BackendState servedState() {
        return servedState;
    }

    public String fallbackFrom() {
        return fallbackFrom;
    }

    public void fallbackFrom(String model) {
        if (fallbackFrom == null) {
            fallbackFrom = model;
        }
    }

    /** The request's method, for the access log of an answer the router makes itself. */
    public String method() {
        return method;
    }

    void method(String method) {
        this.method = method;
    }

    /** Where an answer the router makes before the model is known is counted (set for every request). */
    public RouterMetrics routerMetrics() {
        return routerMetrics;
    }

    void routerMetrics(RouterMetrics metrics) {
        this.routerMetrics = metrics;
    }

    private final AtomicBoolean incomingCounted = new AtomicBoolean();

    /**
     * Counts the request once in vllm:num_incoming_requests_total, under the model that first takes it after any
     * alias (as the vLLM router counts the resolved model), whatever fallbacks follow.
     */
    public void countIncoming() {
        RouterMetrics m = metrics;
        if (m != null && request != null && incomingCounted.compareAndSet(false, true)) {
            m.incoming(request.model());
        }
    }

    /** True while the model being tried is on a half-open breaker's trial: backends out of rotation may be used. */
    public boolean trial() {
        return trial;
    }

    public void trial(boolean trial) {
        this.trial = trial;
    }

    public Long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    public synchronized void retryAfterSeconds(long seconds) {
        if (retryAfterSeconds == null || seconds > retryAfterSeconds) {
            retryAfterSeconds = seconds;
        }
    }

    public synchronized void trail(String event) {
        trail.add(event);
    }

    public synchronized List<String> trail() {
        return List.copyOf(trail);
    }

    /**
     * Runs a step that continues this request on its client's event loop (where its answer is written); should
     * that loop refuse it (shutting down), here, so that no request is left without an answer.
     */
    public void onLoop(Runnable step) {
        try {
            channel.eventLoop().execute(step);
        } catch (RejectedExecutionException shuttingDown) {
            step.run();
        }
    }

    /** The engine id of {@code ?id=}, or null. */
    public String pinnedEngine() {
        return pinnedEngine;
    }

    public void pinnedEngine(String engine) {
        this.pinnedEngine = engine;
    }

    /** The caller's API key (inbound keys on), or null. */
    public ApiKey apiKey() {
        return apiKey;
    }

    /** The key's name (never the key), or null. */
    public String keyName() {
        ApiKey k = apiKey;
        return k == null ? null : k.name();
    }

    public void apiKey(ApiKey apiKey) {
        this.apiKey = apiKey;
    }

    /** The limits this request holds until it is answered, or null. */
    public RateGrant grant() {
        return grant;
    }

    public void grant(RateGrant grant) {
        this.grant = grant;
    }

    /** OpenAI's x-ratelimit-* headers for this request's answer. */
    public void limitHeaders(Map<String, String> limitHeaders) {
        this.limitHeaders = limitHeaders;
    }

    /** Headers the router adds to every model answer, so clients and operators can see who served. */
    public Map<String, String> routerHeaders() {
        LinkedHashMap<String, String> h = new LinkedHashMap<>();
        h.put("x-request-id", requestId);
        h.putAll(limitHeaders);
        if (servedModel != null) {
            h.put("x-llm-router-model", servedModel);
        }
        if (servedBackend != null) {
            h.put("x-llm-router-backend", servedBackend);
        }
        if (attempts > 0) {
            h.put("x-llm-router-attempts", Integer.toString(attempts));
        }
        if (fallbackFrom != null) {
            h.put("x-llm-router-fallback-from", fallbackFrom);
        }
        h.put("x-llm-router-overhead-ms", millis(answerOverheadNanos()));
        return h;
    }

    /** Nanoseconds as milliseconds with three decimals ("0.125"), without String.format's cost on every answer. */
    static String millis(long nanos) {
        long micros = Math.max(0, (nanos + 500) / 1000);
        long fraction = micros % 1000;
        return (micros / 1000) + (fraction < 10 ? ".00" : fraction < 100 ? ".0" : ".") + fraction;
    }
}
