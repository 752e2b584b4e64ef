package io.github.camelllmrouter.backend;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.vertx.core.json.JsonObject;

/**
 * What the router knows of one backend: requests in flight, and passive outlier detection in the manner of
 * Envoy's: after {@code consecutiveFailures} failed calls in a row the backend is ejected for a base time that
 * grows with each ejection (capped), or at least for as long as its Retry-After asked.
 */
public final class BackendState {

    private final String id;
    private final OutlierPolicy policy;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger streaming = new AtomicInteger();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private int consecutiveFailures;
    private int ejections;
    private long ejectedUntilNanos;
    private boolean retryAfter; // out of rotation by a Retry-After, not by an ejection
    private long probeReturnNanos; // when a health check last brought it back, until it answers
    private long outSinceNanos; // when the ejection (or Retry-After) in force began
    private String lastError;
    private boolean probeHealthy = true;
    private int probeFailures;
    private int probeSuccesses;
    private long lastProbeMillis;
    private String lastProbe;
    private volatile EngineStats engine;
    private volatile String modelType = "chat";

    public String modelType() {
        return modelType;
    }

    public void modelType(String type) {
        this.modelType = type;
    }

    /**
     * What the backend's own /metrics said at the last scrape (--engine-stats-interval): requests running, waiting
     * and swapped, KV-cache usage, prefix-cache hits and queries; -1 where the engine does not expose one.
     */
    public record EngineStats(double running, double waiting, double kvCacheUsage, double swapped, double prefixHits,
                              double prefixQueries, long atMillis) {

        // each figure under the engine's current name, then the older ones (summed over the engine's lines)
        private static final String[][] NAMES = {
            {"vllm:num_requests_running"}, {"vllm:num_requests_waiting"}, {"vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"},
            {"vllm:num_requests_swapped"}, {"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"},
            {"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"}};

        static EngineStats parse(String text) {
            double[] v = {-1, -1, -1, -1, -1, -1};
            for (String line : text.split("\n")) {
                for (int i = 0; i < NAMES.length; i++) {
                    for (String name : NAMES[i]) {
                        if (line.startsWith(name) && line.length() > name.length()
                            && (line.charAt(name.length()) == '{' || line.charAt(name.length()) == ' ')) {
                            try {
                                double x = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1).trim());
                                v[i] = v[i] < 0 ? x : v[i] + x;
                            } catch (NumberFormatException ignored) {
                                // not a sample line
                            }
                        }
                    }
                }
            }
            return new EngineStats(v[0], v[1], v[2], v[3], v[4], v[5], System.currentTimeMillis());
        }

        /** Prefix-cache hit rate (0 to 1), as the vLLM router computes it; -1 when unknown. */
        public double prefixHitRate() {
            return prefixQueries > 0 && prefixHits >= 0 ? prefixHits / prefixQueries : prefixQueries == 0 ? 0 : -1;
        }
    }

    public void engineStats(String metricsText) {
        engine = metricsText == null ? null : EngineStats.parse(metricsText);
    }

    public EngineStats engineStats() {
        return engine;
    }

    /** Load for least-loaded routing: requests in flight here, plus what the engine says is queued. */
    public double load() {
        EngineStats e = engine;
        return inFlight.get() + streaming.get() + (e != null && e.waiting() > 0 ? e.waiting() : 0);
    }

    public BackendState(String id, OutlierPolicy policy) {
        this.id = id;
        this.policy = policy;
    }

    public String id() {
        return id;
    }

    public int inFlight() {
        return inFlight.get();
    }

    public void begin() {
        inFlight.incrementAndGet();
        requests.incrementAndGet();
    }

    public void end() {
        inFlight.decrementAndGet();
    }

    /** Streams from this backend being relayed (after their headers). */
    public int streaming() {
        return streaming.get();
    }

    public void streamStarted() {
        streaming.incrementAndGet();
    }

    public void streamEnded() {
        streaming.decrementAndGet();
    }

    /** In rotation: not asleep, not ejected by outlier detection and not failing its active health check. */
    public synchronized boolean available() {
        return !asleep && probeHealthy && (ejectedUntilNanos == 0 || System.nanoTime() - ejectedUntilNanos >= 0);
    }

    private volatile boolean asleep;
    private volatile Map<String, JsonObject> modelCards = Map.of();
    private volatile long modelCardsNanos;

    /** The cards of the backend's own GET /v1/models (vLLM's root, parent, max_model_len, ...), as last read. */
    public Map<String, JsonObject> modelCards() {
        return modelCards;
    }

    public void modelCards(Map<String, JsonObject> cards) {
        if (!cards.isEmpty() || modelCards.isEmpty()) {
            modelCards = Map.copyOf(cards); // a failed read keeps the last cards
        }
        modelCardsNanos = System.nanoTime();
    }

    private CompletableFuture<Void> modelCardsReading;

    /** The model-card read under way, or a new one from {@code read}. */
    public synchronized CompletableFuture<Void> modelCardsRead(Supplier<CompletableFuture<Void>> read) {
        if (modelCardsReading == null || modelCardsReading.isDone()) {
            modelCardsReading = read.get();
        }
        return modelCardsReading;
    }

    /** Whether the cards are older than this (or were never read). */
    public boolean modelCardsOlderThan(long millis) {
        return modelCardsNanos == 0 || System.nanoTime() - modelCardsNanos > TimeUnit.MILLISECONDS.toNanos(millis);
    }
    private final long createdEpochSeconds = System.currentTimeMillis() / 1000;

    /**
     * The vLLM router's engine id: here a name-based UUID of the backend's URL, so that every replica and every
     * restart gives a backend the same id (the vLLM router draws a random one per start).
     */
    public String engineId() {
        return UUID.nameUUIDFromBytes(id.getBytes(StandardCharsets.UTF_8)).toString();
    }

    public long createdEpochSeconds() {
        return createdEpochSeconds;
    }

    /** Put to sleep through the router's /sleep (out of rotation until /wake_up), as the vLLM router marks it. */
    public boolean asleep() {
        return asleep;
    }

    public void asleep(boolean asleep) {
        this.asleep = asleep;
    }

    /** While the backend waits out a Retry-After it gave: how long is left (0 when it is not waiting). */
    public synchronized long retryAfterRemainingMs() {
        long left = ejectedUntilNanos - System.nanoTime();
        return retryAfter && ejectedUntilNanos != 0 && left > 0 ? TimeUnit.NANOSECONDS.toMillis(left) + 1 : 0;
    }

    /** Active health checks were turned off: a backend they had taken out is back in rotation. */
    public synchronized void probesOff() {
        probeHealthy = true;
        probeFailures = 0;
        probeSuccesses = 0;
        lastProbe = null;
    }

    /**
     * Records an active health-check result. It takes {@code threshold} results in a row to change state, so a
     * backend does not flap in and out of rotation; returns true when the state changed.
     */
    public synchronized boolean probed(boolean ok, String detail, int unhealthyThreshold, int healthyThreshold) {
        boolean wasAvailable = available();
        boolean changed = recordProbe(ok, detail, unhealthyThreshold, healthyThreshold);
        if (ok && probeHealthy && ejectedUntilNanos != 0 && !retryAfter) {
            // a passing active check un-ejects a passively ejected backend (Envoy's default), so recovery is
            // never held back by a long ejection
            ejectedUntilNanos = 0;
            ejections = 0;
            consecutiveFailures = 0;
        }
        if (!wasAvailable && available()) {
            probeReturnNanos = System.nanoTime();
        }
        return changed;
    }

    /**
     * When this backend came back in rotation and has not answered since (its ejection time ended, or its health
     * check passed), or 0: in rotation all along, confirmed by an answer, or still out. An open model breaker
     * lets a trial through when one of its backends came back after it opened.
     */
    public synchronized long returnedAtNanos() {
        if (!available()) {
            return 0;
        }
        long ejectionEnd = ejectedUntilNanos != 0 ? ejectedUntilNanos : 0;
        return ejectionEnd != 0 && (probeReturnNanos == 0 || ejectionEnd - probeReturnNanos > 0) ? ejectionEnd : probeReturnNanos;
    }

    private boolean recordProbe(boolean ok, String detail, int unhealthyThreshold, int healthyThreshold) {
        lastProbeMillis = System.currentTimeMillis();
        lastProbe = ok ? "ok" : detail;
        if (ok) {
            probeFailures = 0;
            if (!probeHealthy && ++probeSuccesses >= healthyThreshold) {
                probeHealthy = true;
                probeSuccesses = 0;
                return true;
            }
        } else {
            probeSuccesses = 0;
            if (probeHealthy && ++probeFailures >= unhealthyThreshold) {
                probeHealthy = false;
                probeFailures = 0;
                return true;
            }
        }
        return false;
    }

    /** A call answered: as {@link #success(long)}, for a call that started now. */
    public void success() {
        success(System.nanoTime());
    }

    /**
     * A call answered that was sent at {@code startedNanos}. One sent after the backend was taken out (after its
     * ejection time, or a half-open breaker's trial before it) brings it back, and its history is forgotten: the
     * next outage is ejected for the base time again. One sent before (a long generation finishing) lifts nothing.
     */
    public synchronized void success(long startedNanos) {
        consecutiveFailures = 0;
        if (ejectedUntilNanos != 0 && startedNanos - outSinceNanos < 0) {
            return;
        }
        probeReturnNanos = 0;
        ejectedUntilNanos = 0;
        ejections = 0;
        retryAfter = false;
    }

    /** A failed call: as {@link #failure(String, Long, long)}, for a call that started now. */
    public boolean failure(String reason, Long retryAfterSeconds) {
        return failure(reason, retryAfterSeconds, System.nanoTime());
    }

    /**
     * Records a failed call sent at {@code startedNanos}; returns true when it took the backend out of rotation. A
     * Retry-After keeps the backend out for exactly that long (capped at the longest ejection) and is not counted
     * as an outlier: the backend said when to come back. Otherwise {@code consecutiveFailures} in a row eject it
     * for the base time times the ejections in a row; a call sent after an ejection ended is its trial, and a
     * failed trial ejects it again at once, for longer. A call sent before the ejection in force began lengthens
     * nothing. A success resets all of it.
     */
    public synchronized boolean failure(String reason, Long retryAfterSeconds, long startedNanos) {
        failures.incrementAndGet();
        lastError = reason;
        long now = System.nanoTime();
        long outForMs = 0;
        boolean byRetryAfter = retryAfterSeconds != null && retryAfterSeconds > 0;
        if (byRetryAfter) {
            outForMs = Math.min(TimeUnit.SECONDS.toMillis(retryAfterSeconds), policy.maxEjectionMs());
        } else if (ejectedUntilNanos != 0 && startedNanos - outSinceNanos < 0) {
            // sent before the ejection in force began (under load, many were in flight when the backend failed):
            // part of the outage that ejected it, not a new ejection that would lengthen it
            return false;
        } else {
            consecutiveFailures++;
            boolean failedTrial = ejections > 0 && ejectedUntilNanos != 0 && now - ejectedUntilNanos >= 0
                    && startedNanos - ejectedUntilNanos >= 0;
            if (consecutiveFailures >= policy.consecutiveFailures() || failedTrial) {
                ejections++;
                outForMs = Math.min(policy.baseEjectionMs() * ejections, policy.maxEjectionMs());
                consecutiveFailures = 0;
            }
        }
        if (outForMs > 0) {
            long until = now + TimeUnit.MILLISECONDS.toNanos(outForMs);
            if (ejectedUntilNanos == 0 || now - ejectedUntilNanos >= 0 || until - ejectedUntilNanos > 0) {
                ejectedUntilNanos = until;
                outSinceNanos = now;
                retryAfter = byRetryAfter; // what keeps it out is the later of the two deadlines
            }
            return true;
        }
        return false;
    }

    /** For /health. */
    public synchronized Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("url", id);
        m.put("engine_id", engineId());
        if (asleep) {
            m.put("asleep", true);
        }
        long now = System.nanoTime();
        boolean out = ejectedUntilNanos != 0 && ejectedUntilNanos - now > 0;
        m.put("status", !probeHealthy ? "unhealthy" : out ? (retryAfter ? "retry_after" : "ejected") : "healthy");
        if (out) {
            m.put("ejected_for_ms", TimeUnit.NANOSECONDS.toMillis(ejectedUntilNanos - now));
        }
        m.put("in_flight", inFlight.get());
        m.put("streaming", streaming.get());
        m.put("requests", requests.get());
        m.put("failures", failures.get());
        m.put("ejections", ejections);
        if (lastError != null) {
            m.put("last_error", lastError);
        }
        EngineStats e = engine;
        if (e != null) {
            Map<String, Object> stats = new LinkedHashMap<>();
            stats.put("num_requests_running", e.running());
            stats.put("num_requests_waiting", e.waiting());
            stats.put("kv_cache_usage_perc", e.kvCacheUsage());
            stats.put("scraped_at", Instant.ofEpochMilli(e.atMillis()).toString());
            m.put("engine_stats", stats);
        }
        if (lastProbe != null) {
            m.put("last_probe", lastProbe);
            m.put("last_probe_at", Instant.ofEpochMilli(lastProbeMillis).toString());
        }
        return m;
    }

    /** Envoy-style outlier detection settings. */
    public record OutlierPolicy(int consecutiveFailures, long baseEjectionMs, long maxEjectionMs) {
    }
}
