package io.github.camelllmrouter.backend;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.camel.CamelContext;

/**
 * The router's own meters, on the registry Camel's metrics use (so they appear on /metrics). A failed attempt is
 * counted against the backend that failed, with its reason; the rescue is counted for the backend that served.
 */
public final class RouterMetrics {

    private final MeterRegistry registry;

    private RouterMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public static RouterMetrics of(CamelContext context) {
        MeterRegistry r = context == null ? null : context.getRegistry().findSingleByType(MeterRegistry.class);
        return new RouterMetrics(r != null ? r : new SimpleMeterRegistry());
    }

    /** One call to one backend: outcome is "success", "client_error" (4xx passed through) or the failure reason. */
    public void attempt(String model, String backend, String outcome) {
        Counter.builder("llm_router_attempts").description("Calls to backends by model, backend and outcome")
                .tag("model", model).tag("backend", backend).tag("outcome", outcome).register(registry).increment();
    }

    public void failover(String model, String from, String reason) {
        Counter.builder("llm_router_failovers").description("Retries on another backend of the same model, blamed on the backend that failed")
                .tag("model", model).tag("backend", from).tag("reason", reason).register(registry).increment();
    }

    public void fallback(String from, String to, String reason) {
        Counter.builder("llm_router_fallbacks").description("Requests sent to a fallback model")
                .tag("from", from).tag("to", to).tag("reason", reason).register(registry).increment();
    }

    private final java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> inFlight =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** Requests in flight by the model the client asked for. */
    public void inFlight(String model, int delta) {
        inFlight.computeIfAbsent(model, m -> {
            java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
            io.micrometer.core.instrument.Gauge.builder("llm_router_requests_in_flight", n, java.util.concurrent.atomic.AtomicInteger::get)
                    .description("Model requests being answered, by the model asked for").tag("model", m).register(registry);
            return n;
        }).addAndGet(delta);
    }

    /** One finished model request, counted for the model and backend that served it. */
    public void request(String model, String backend, int status, String outcome, long durationNanos, long ttftNanos,
                        long[] usage) {
        String b = backend == null ? "none" : backend;
        Counter.builder("llm_router_requests").description("Model requests by model and backend that served, status class and outcome")
                .tag("model", model).tag("backend", b).tag("status", (status / 100) + "xx").tag("outcome", outcome)
                .register(registry).increment();
        io.micrometer.core.instrument.Timer.builder("llm_router_request_duration").description("End-to-end duration of model requests")
                .tag("model", model).publishPercentileHistogram().register(registry)
                .record(durationNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        if (status < 300) {
            io.micrometer.core.instrument.Timer.builder("llm_router_time_to_first_token")
                    .description("From the request's arrival to the first byte of answer (the first chunk of a stream)")
                    .tag("model", model).publishPercentileHistogram().register(registry)
                    .record(ttftNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
        if (usage != null) {
            if (usage[0] >= 0) {
                Counter.builder("llm_router_prompt_tokens").description("Prompt tokens, from the answers' usage")
                        .tag("model", model).tag("backend", b).register(registry).increment(usage[0]);
            }
            if (usage[1] >= 0) {
                Counter.builder("llm_router_completion_tokens").description("Completion tokens, from usage or counted stream chunks")
                        .tag("model", model).tag("backend", b).register(registry).increment(usage[1]);
            }
        }
    }

    /** The gap between two chunks of a stream. */
    public void interTokenLatency(String model, long nanos) {
        io.micrometer.core.instrument.Timer.builder("llm_router_inter_token_latency").description("Gaps between stream chunks")
                .tag("model", model).publishPercentileHistogram().register(registry)
                .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** The time the router itself added to an answer (total minus time waiting on backends). */
    public void overhead(String model, long nanos) {
        io.micrometer.core.instrument.Timer.builder("llm_router_overhead")
                .description("Time the router added to a model answer: elapsed time minus time spent waiting on backends")
                .tag("model", model).publishPercentileHistogram().register(registry)
                .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    public void healthChange(String backend, boolean healthy) {
        Counter.builder("llm_router_health_changes").description("Backends entering or leaving rotation by active health check")
                .tag("backend", backend).tag("healthy", Boolean.toString(healthy)).register(registry).increment();
    }

    public void ejection(String backend, String reason) {
        Counter.builder("llm_router_ejections").description("Backends taken out of rotation by outlier detection")
                .tag("backend", backend).tag("reason", reason).register(registry).increment();
    }
}
