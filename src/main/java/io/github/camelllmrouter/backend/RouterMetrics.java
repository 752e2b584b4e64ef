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
