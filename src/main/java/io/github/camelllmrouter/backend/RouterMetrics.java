package io.github.camelllmrouter.backend;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.stream.DoubleStream;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.NamingConvention;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.camel.CamelContext;

/**
 * The router's own meters, on the registry Camel's metrics use (so they appear on /metrics). A failed attempt is
 * counted against the backend that failed, with its reason; the rescue is counted for the backend that served.
 */
public final class RouterMetrics {

    private static final Duration[] VLLM_BUCKETS = DoubleStream
            .of(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
            .mapToObj(x -> Duration.ofNanos((long) (x * 1e9))).toArray(Duration[]::new);

    private final MeterRegistry registry;

    /** Keeps the {@code vllm:} prefix of the vLLM router's metric names; everything else as before. */
    record KeepVllmPrefix(NamingConvention base) implements NamingConvention {
        @Override
        public String name(String name, Meter.Type type, String baseUnit) {
            return name.startsWith("vllm:") ? "vllm:" + base.name(name.substring(5), type, baseUnit) : base.name(name, type, baseUnit);
        }

        @Override
        public String tagKey(String key) {
            return base.tagKey(key);
        }

        @Override
        public String tagValue(String value) {
            return base.tagValue(value);
        }
    }

    private RouterMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public static RouterMetrics of(CamelContext context) {
        MeterRegistry r = context == null ? null : context.getRegistry().findSingleByType(MeterRegistry.class);
        if (r != null) {
            // the vLLM router's names have a colon (vllm:current_qps); Prometheus allows it, the default convention does not
            NamingConvention base = r.config().namingConvention();
            if (!(base instanceof KeepVllmPrefix)) {
                r.config().namingConvention(new KeepVllmPrefix(base));
            }
        }
        return new RouterMetrics(r != null ? r : new SimpleMeterRegistry());
    }

    /** One call to one backend: outcome is "success", "client_error" (4xx passed through) or the failure reason. */
    public void attempt(String model, String backend, String outcome) {
        if (!known(backend)) {
            return;
        }
        if (!"success".equals(outcome) && !"client_error".equals(outcome)) {
            counter("vllm:request_errors", "Total request errors", "server", backend, "model", model, "error_type", outcome).increment();
        }
        counter("llm_router_attempts", "Calls to backends by model, backend and outcome",
                "model", model, "backend", backend, "outcome", outcome).increment();
    }

    // per-request meters are looked up by name and tag values, with no string built per lookup: cheaper than
    // building a Micrometer id each time
    private final Map<MeterKey, Meter> meters = new ConcurrentHashMap<>();

    /** A meter's name and tags (keys and values in turn), as the map's key. */
    private record MeterKey(String name, String[] tags) {
        @Override
        public boolean equals(Object o) {
            return o instanceof MeterKey k && name.equals(k.name) && Arrays.equals(tags, k.tags);
        }

        @Override
        public int hashCode() {
            return 31 * name.hashCode() + Arrays.hashCode(tags);
        }

        /** The key kept in the map: with its own copy of the tags, whatever the caller does with its array. */
        MeterKey stored() {
            return new MeterKey(name, tags.clone());
        }
    }

    private Counter counter(String name, String help, String... tags) {
        MeterKey key = new MeterKey(name, tags);
        Meter m = meters.get(key);
        return (Counter) (m != null ? m : meters.computeIfAbsent(key.stored(),
                k -> Counter.builder(name).description(help).tags(tags).register(registry)));
    }

    private Timer timer(String name, String help, Duration[] slos, String... tags) {
        MeterKey key = new MeterKey(name, tags);
        Meter m = meters.get(key);
        return (Timer) (m != null ? m : meters.computeIfAbsent(key.stored(), k -> {
            Timer.Builder t = Timer.builder(name).description(help).tags(tags);
            return (slos == null ? t.publishPercentileHistogram() : t.serviceLevelObjectives(slos)).register(registry);
        }));
    }

    public void failover(String model, String from, String reason) {
        if (!known(from)) {
            return;
        }
        Counter.builder("llm_router_failovers").description("Retries on another backend of the same model, blamed on the backend that failed")
                .tag("model", model).tag("backend", from).tag("reason", reason).register(registry).increment();
    }

    public void fallback(String from, String to, String reason) {
        Counter.builder("llm_router_fallbacks").description("Requests sent to a fallback model")
                .tag("from", from).tag("to", to).tag("reason", reason).register(registry).increment();
    }

    private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();

    /** Requests in flight by the model the client asked for. */
    public void inFlight(String model, int delta) {
        inFlight.computeIfAbsent(model, m -> {
            AtomicInteger n = new AtomicInteger();
            Gauge.builder("llm_router_requests_in_flight", n, AtomicInteger::get)
                    .description("Model requests being answered, by the model asked for").tag("model", m).register(registry);
            return n;
        }).addAndGet(delta);
    }

    private final Map<String, RequestStats> stats = new ConcurrentHashMap<>();
    private volatile int statsWindowSeconds = 60;

    /** --request-stats-window: seconds over which the vLLM-router gauges are averaged. */
    public void statsWindowSeconds(int seconds) {
        statsWindowSeconds = seconds;
    }

    /**
     * The vLLM production-stack router's per-server gauges, under its names and label ({@code server}), so its
     * Grafana dashboards keep working: vllm:current_qps, vllm:avg_latency, vllm:avg_itl, vllm:avg_decoding_length,
     * vllm:num_prefill_requests (waiting for the first byte) and vllm:num_decoding_requests (streaming); the gauges
     * Micrometer cannot name (vllm:healthy_pods_total, ...) are {@link VllmRouterGauges}.
     */
    public void backend(BackendState state) {
        stats.computeIfAbsent(state.id(), id -> {
            RequestStats s = new RequestStats(statsWindowSeconds);
            gauge("vllm:current_qps", "Current Queries Per Second", id, s, RequestStats::qps);
            gauge("vllm:avg_latency", "Average end-to-end request latency", id, s, RequestStats::avgLatency);
            gauge("vllm:avg_itl", "Average Inter-Token Latency", id, s, RequestStats::avgItl);
            gauge("llm_router_backend_avg_ttft_seconds", "Average time to first token over the request-stats window", id, s,
                    RequestStats::avgTtft);
            gauge("vllm:avg_decoding_length", "Average decoding time (first token to end), seconds", id, s, RequestStats::avgDecoding);
            gauge("vllm:num_prefill_requests", "Requests waiting for their first byte", id, state, b -> b.inFlight());
            gauge("vllm:num_decoding_requests", "Streams being relayed", id, state, b -> b.streaming());
            // vllm:healthy_pods_total and the other gauges of the vLLM router: VllmRouterGauges
            return s;
        });
    }

    /**
     * Whether a backend's series may be written: one forgotten (no longer used) is not brought back by a request
     * or probe that was still finishing when it went. "none" (no backend answered) always is.
     */
    private boolean known(String backend) {
        return "none".equals(backend) || stats.containsKey(backend);
    }

    /** A backend no longer used: its series (tagged server or backend) leave /metrics. */
    public void forget(String backend) {
        stats.remove(backend);
        Predicate<Meter> of = m -> backend.equals(m.getId().getTag("server")) || backend.equals(m.getId().getTag("backend"));
        meters.values().removeIf(of);
        for (Meter m : registry.getMeters()) {
            if (of.test(m)) {
                registry.remove(m);
            }
        }
    }

    private <T> void gauge(String name, String help, String server, T obj, ToDoubleFunction<T> f) {
        Gauge.builder(name, obj, f).description(help).tag("server", server).register(registry);
    }

    /** The --log-stats line of a backend: its state and the request-stats window. */
    public String describe(BackendState state) {
        RequestStats s = stats.get(state.id());
        BackendState.EngineStats e = state.engineStats();
        return String.format(Locale.ROOT,
                "healthy=%s in_flight=%d streaming=%d qps=%.2f avg_latency=%.3fs avg_ttft=%.3fs avg_itl=%.4fs%s",
                state.available(), state.inFlight(), state.streaming(), s == null ? 0 : s.qps(),
                s == null ? 0 : s.avgLatency(), s == null ? 0 : s.avgTtft(), s == null ? 0 : s.avgItl(),
                e == null ? "" : String.format(Locale.ROOT, " engine_running=%.0f engine_waiting=%.0f kv_cache=%.2f",
                        e.running(), e.waiting(), e.kvCacheUsage()));
    }

    /** A valid incoming request, by the model asked for (vllm:num_incoming_requests). */
    public void incoming(String model) {
        counter("vllm:num_incoming_requests", "Total valid incoming requests to router", "model", model).increment();
    }

    /** One finished model request, counted for the model and backend that served it. */
    public void request(String model, String backend, int status, String outcome, long durationNanos, long ttftNanos,
                        long decodingNanos, long[] usage) {
        String b = backend == null || !known(backend) ? "none" : backend;
        RequestStats s = stats.get(b);
        if (s != null) {
            s.request(durationNanos / 1e9, ttftNanos / 1e9, decodingNanos / 1e9);
        }
        // the vLLM router's status label: success or error
        timer("vllm:request_latency", "End-to-end request latency observed at the router", VLLM_BUCKETS,
                "server", b, "model", model, "status", status < 400 ? "success" : "error").record(durationNanos, TimeUnit.NANOSECONDS);
        counter("llm_router_requests", "Model requests by model and backend that served, status class and outcome",
                "model", model, "backend", b, "status", (status / 100) + "xx", "outcome", outcome).increment();
        timer("llm_router_request_duration", "End-to-end duration of model requests", null, "model", model)
                .record(durationNanos, TimeUnit.NANOSECONDS);
        if (status < 300) {
            timer("llm_router_time_to_first_token",
                    "From the request's arrival to the first byte of answer (the first chunk of a stream)", null, "model", model)
                    .record(ttftNanos, TimeUnit.NANOSECONDS);
        }
        if (usage != null) {
            if (usage[0] >= 0) {
                counter("vllm:input_tokens", "Total input tokens processed", "server", b, "model", model).increment(usage[0]);
                counter("llm_router_prompt_tokens", "Prompt tokens, from the answers' usage", "model", model, "backend", b)
                        .increment(usage[0]);
            }
            if (usage[1] >= 0) {
                counter("vllm:output_tokens", "Total output tokens generated", "server", b, "model", model).increment(usage[1]);
                counter("llm_router_completion_tokens", "Completion tokens, from usage or counted stream chunks",
                        "model", model, "backend", b).increment(usage[1]);
            }
        }
    }

    /** A request the router answered itself before routing it: no model or backend label, the answer's code as outcome. */
    /** A request made with an inbound API key: by key name (never the key), model asked for and status class. */
    public void keyRequest(String key, String model, int status, long tokens) {
        counter("llm_router_key_requests", "Model requests by API key name, model asked for and status class",
                "key", key, "model", model, "status", (status / 100) + "xx").increment();
        if (tokens > 0) {
            counter("llm_router_key_tokens", "Tokens (prompt and completion) counted against API keys' limits",
                    "key", key, "model", model).increment(tokens);
        }
    }

    /** A request refused by a rate limit: limit is requests, tokens or concurrent. */
    public void rateLimited(String key, String model, String limit) {
        counter("llm_router_rate_limited", "Requests refused with 429 by a rate limit, by API key name, model and limit",
                "key", key, "model", model, "limit", limit).increment();
    }

    public void routerAnswer(int status, String code) {
        counter("llm_router_requests", "Model requests by model and backend that served, status class and outcome",
                "model", "none", "backend", "none", "status", (status / 100) + "xx", "outcome", code).increment();
    }

    private volatile boolean connectionsGauge;

    /** The open client connections (registered once). */
    public void clientConnections(Supplier<Number> open) {
        if (!connectionsGauge) {
            synchronized (this) {
                if (!connectionsGauge) {
                    Gauge.builder("llm_router_client_connections", open)
                            .description("Open client connections").register(registry);
                    connectionsGauge = true;
                }
            }
        }
    }

    /** A client connection the front door closed: header_timeout, body_timeout, idle_timeout or limit. */
    public void clientConnectionClosed(String reason) {
        counter("llm_router_client_connections_closed", "Client connections closed by the front door, by reason",
                "reason", reason).increment();
    }

    /** The gap between two chunks of a stream. */
    public void interTokenLatency(String model, String backend, long nanos) {
        RequestStats st = backend == null ? null : stats.get(backend);
        if (st != null) {
            st.interToken(nanos / 1e9);
        }
        timer("llm_router_inter_token_latency", "Gaps between stream chunks", null, "model", model).record(nanos, TimeUnit.NANOSECONDS);
    }

    /** The time the router itself added to an answer (total minus time waiting on backends). */
    public void overhead(String model, long nanos) {
        timer("llm_router_overhead", "Time the router added to a model answer: elapsed time minus time spent waiting on backends",
                null, "model", model).record(nanos, TimeUnit.NANOSECONDS);
    }

    public void healthChange(String backend, boolean healthy) {
        if (!known(backend)) {
            return;
        }
        Counter.builder("llm_router_health_changes").description("Backends entering or leaving rotation by active health check")
                .tag("backend", backend).tag("healthy", Boolean.toString(healthy)).register(registry).increment();
    }

    public void panic(String model) {
        Counter.builder("llm_router_panics").description("Requests sent to out-of-rotation backends because nothing else was left")
                .tag("model", model).register(registry).increment();
    }

    public void ejection(String backend, String reason) {
        if (!known(backend)) {
            return;
        }
        Counter.builder("llm_router_ejections").description("Backends taken out of rotation by outlier detection")
                .tag("backend", backend).tag("reason", reason).register(registry).increment();
    }
}
