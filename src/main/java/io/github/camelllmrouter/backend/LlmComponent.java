package io.github.camelllmrouter.backend;

import java.net.URI;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.camel.Endpoint;
import org.apache.camel.support.DefaultComponent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code llm:} component: {@code to: llm:http://host:8000?weight=3} is one model server behind a
 * {@code loadBalance}. Options here are the defaults for every backend ({@code camel.component.llm.*}).
 */
public class LlmComponent extends DefaultComponent {

    private long connectTimeoutMs = 2000;
    private long firstByteTimeoutMs = 60000;
    private long totalTimeoutMs = 600000;
    private int maxConnectionsPerBackend = 2000;
    private int idleConnectionTimeoutSeconds = 4;
    private int eventLoops = Math.max(1, Runtime.getRuntime().availableProcessors());
    private boolean nativeTransport = true;
    private boolean http2;
    private String tlsCaFile;
    private boolean tlsVerify = true;
    private String retryableStatusCodes = "429,5xx";
    private int maxFailoverAttempts = 2;
    private int ejectConsecutiveFailures = 3;
    private long ejectBaseMs = 10000;
    private long ejectMaxMs = 300000;
    private int maxAttemptsPerRequest = 8;
    private volatile String routingLogic = "roundrobin";
    private volatile boolean healthChecks;
    private long healthCheckIntervalMs = 60000;
    private long healthCheckTimeoutMs = 10000;
    private String healthCheckProbe = "health";
    private int unhealthyThreshold = 2;
    private int healthyThreshold = 2;
    private volatile long healthTimer = -1;
    private volatile String sessionKey;
    private int prefixMinMatchLength = 256;
    private int requestStatsWindowSeconds = 60;
    private long engineStatsIntervalMs;
    private String healthCheckApiKey;
    private long logStatsIntervalMs;
    private long requestTimeBudgetMs = 900000;
    private volatile RouterMetrics metrics;

    private volatile BackendClient client;
    private final Map<String, BackendState> states = new ConcurrentHashMap<>();

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        LlmEndpoint endpoint = new LlmEndpoint(uri, this, remaining);
        setProperties(endpoint, parameters);
        return endpoint;
    }

    public BackendClient client() {
        BackendClient c = client;
        if (c == null) {
            synchronized (this) {
                if (client == null) {
                    client = new BackendClient(new BackendClientOptions(connectTimeoutMs, firstByteTimeoutMs,
                            totalTimeoutMs, maxConnectionsPerBackend, eventLoops, retryableStatusCodes, idleConnectionTimeoutSeconds,
                            nativeTransport, http2, tlsCaFile, tlsVerify));
                    BackendClient started = client;
                    started.probeApiKey(healthCheckApiKey != null ? healthCheckApiKey : System.getenv("VLLM_API_KEY"));
                    if (healthChecks) {
                        healthTimer = started.vertx().setPeriodic(0, healthCheckIntervalMs, id -> probeAll(started));
                    }
                    if (engineStatsIntervalMs > 0) {
                        started.vertx().setPeriodic(0, engineStatsIntervalMs, id -> states.values().forEach(s ->
                                started.scrape(URI.create(s.id()), healthCheckTimeoutMs).thenAccept(s::engineStats)));
                    }
                    if (logStatsIntervalMs > 0) {
                        started.vertx().setPeriodic(logStatsIntervalMs, id -> logStats());
                    }
                }
                c = client;
            }
        }
        return c;
    }

    public RouterMetrics metrics() {
        RouterMetrics m = metrics;
        if (m == null) {
            synchronized (this) {
                if (metrics == null) {
                    RouterMetrics created = RouterMetrics.of(getCamelContext());
                    created.statsWindowSeconds(requestStatsWindowSeconds);
                    metrics = created;
                }
                m = metrics;
            }
        }
        return m;
    }

    /** The key health probes and engine scrapes send as a bearer token (never logged). */
    public void setHealthCheckApiKey(String healthCheckApiKey) {
        this.healthCheckApiKey = healthCheckApiKey;
    }

    public long getEngineStatsIntervalMs() {
        return engineStatsIntervalMs;
    }

    /** --engine-stats-interval: scrape each backend's /metrics this often (0 = never). */
    public void setEngineStatsIntervalMs(long engineStatsIntervalMs) {
        this.engineStatsIntervalMs = engineStatsIntervalMs;
    }

    public long getLogStatsIntervalMs() {
        return logStatsIntervalMs;
    }

    /** --log-stats with --log-stats-interval: log one stats line per backend this often (0 = never). */
    public void setLogStatsIntervalMs(long logStatsIntervalMs) {
        this.logStatsIntervalMs = logStatsIntervalMs;
    }

    public int getRequestStatsWindowSeconds() {
        return requestStatsWindowSeconds;
    }

    /** --request-stats-window: seconds over which per-backend QPS and averages are computed. */
    public void setRequestStatsWindowSeconds(int requestStatsWindowSeconds) {
        this.requestStatsWindowSeconds = requestStatsWindowSeconds;
    }

    /** --log-stats: one line per backend, as the vLLM router prints them. */
    private void logStats() {
        Logger log = LoggerFactory.getLogger("io.github.camelllmrouter.stats");
        for (BackendState s : states.values()) {
            log.info("backend={} {}", s.id(), metrics().describe(s));
        }
    }

    /** Active health checks: one probe per backend per interval; results change state only past a threshold. */
    private void probeAll(BackendClient c) {
        for (BackendState state : states.values()) {
            c.probe(URI.create(state.id()), healthCheckProbe, state.modelType(), healthCheckTimeoutMs).thenAccept(problem -> {
                if (!healthChecks) {
                    return; // turned off while this probe ran: what it found no longer counts
                }
                if (state.probed(problem == null, problem, unhealthyThreshold, healthyThreshold)) {
                    LoggerFactory.getLogger(LlmComponent.class).warn("backend {} {} by its health check{}",
                            state.id(), problem == null ? "back in rotation" : "out of rotation",
                            problem == null ? "" : ": " + problem);
                    metrics().healthChange(state.id(), problem == null);
                }
            });
        }
    }

    /** Engines put to sleep through the router: kept here, so that a backend's new state (a route reload) stays asleep. */
    private final Set<String> asleep = ConcurrentHashMap.newKeySet();

    /** Puts a backend to sleep (out of rotation) or wakes it. */
    public void asleep(BackendState state, boolean sleeping) {
        if (sleeping) {
            asleep.add(state.id());
        } else {
            asleep.remove(state.id());
        }
        state.asleep(sleeping);
    }

    /** One state per backend URL, shared by every model that uses that server. */
    public BackendState state(String backendId) {
        return states.computeIfAbsent(backendId, id -> {
            BackendState state = new BackendState(id,
                    new BackendState.OutlierPolicy(ejectConsecutiveFailures, ejectBaseMs, ejectMaxMs));
            state.asleep(asleep.contains(id));
            metrics().backend(state);
            return state;
        });
    }

    // started producers per backend: a backend no route (nor discovery) uses any more is forgotten
    private final Map<String, Integer> users = new HashMap<>();

    /** A producer of this backend starts: its state is kept, probed, and shown on /health and /metrics. */
    BackendState acquire(String backendId, String type) {
        synchronized (users) {
            users.merge(backendId, 1, Integer::sum);
            BackendState state = state(backendId);
            state.modelType(type);
            return state;
        }
    }

    /** Reads the backend's own model list again when the last read is older than {@code maxAgeMs}. */
    public CompletableFuture<Void> refreshModelCards(BackendState state, long maxAgeMs) {
        if (!state.modelCardsOlderThan(maxAgeMs)) {
            return CompletableFuture.completedFuture(null);
        }
        // one read at a time per backend: the requests that find the cards stale meanwhile wait for the same one
        return state.modelCardsRead(() -> client().modelCards(URI.create(state.id()), healthCheckTimeoutMs)
                .thenAccept(state::modelCards));
    }

    /**
     * A producer of this backend stops (its route was replaced or removed, or its pod left). When it was the
     * last, the backend's state and per-backend meters go once its last request has finished.
     */
    void release(String backendId) {
        synchronized (users) {
            Integer left = users.merge(backendId, -1, Integer::sum);
            if (left == null || left > 0) {
                return;
            }
            users.remove(backendId);
        }
        forgetWhenIdle(backendId);
    }

    private void forgetWhenIdle(String backendId) {
        synchronized (users) {
            BackendState state = states.get(backendId);
            if (users.containsKey(backendId) || state == null) {
                return; // used again meanwhile, or already gone
            }
            if (state.inFlight() + state.streaming() == 0) {
                states.remove(backendId);
                metrics().forget(backendId);
                BackendClient later = client;
                if (later != null) {
                    // a request whose backend call had ended may still be writing its answer and then its meters:
                    // they go a second later (unless the backend is in use again)
                    later.vertx().setTimer(1000, id -> {
                        synchronized (users) {
                            if (!users.containsKey(backendId) && !states.containsKey(backendId)) {
                                metrics().forget(backendId);
                            }
                        }
                    });
                }
                if (getCamelContext() == null || !getCamelContext().isStopping()) {
                    LoggerFactory.getLogger(LlmComponent.class).info("backend {} no longer used by any route: forgotten", backendId);
                }
                return;
            }
        }
        BackendClient c = client;
        if (c != null) {
            c.vertx().setTimer(1000, id -> forgetWhenIdle(backendId));
        }
    }

    public Collection<BackendState> states() {
        return states.values();
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        if (healthChecks || engineStatsIntervalMs > 0 || logStatsIntervalMs > 0) {
            client(); // starts the probes, scrapes and stats lines now, not at the first request
        }
    }

    @Override
    protected void doStop() throws Exception {
        super.doStop();
        BackendClient c = client;
        client = null;
        if (c != null) {
            c.close();
        }
    }

    public String getTlsCaFile() {
        return tlsCaFile;
    }

    /** A PEM file of CAs that https:// backends' certificates may be signed by, besides the JVM's (BackendTrust). */
    public void setTlsCaFile(String tlsCaFile) {
        this.tlsCaFile = tlsCaFile;
    }

    public boolean isTlsVerify() {
        return tlsVerify;
    }

    /** false: https:// backends' certificates and host names are not checked (test clusters only). */
    public void setTlsVerify(boolean tlsVerify) {
        this.tlsVerify = tlsVerify;
    }

    public long getConnectTimeoutMs() {
        return connectTimeoutMs;
    }

    public void setConnectTimeoutMs(long connectTimeoutMs) {
        this.connectTimeoutMs = connectTimeoutMs;
    }

    public long getFirstByteTimeoutMs() {
        return firstByteTimeoutMs;
    }

    public void setFirstByteTimeoutMs(long firstByteTimeoutMs) {
        this.firstByteTimeoutMs = firstByteTimeoutMs;
    }

    public long getTotalTimeoutMs() {
        return totalTimeoutMs;
    }

    public void setTotalTimeoutMs(long totalTimeoutMs) {
        this.totalTimeoutMs = totalTimeoutMs;
    }

    public int getMaxConnectionsPerBackend() {
        return maxConnectionsPerBackend;
    }

    public void setMaxConnectionsPerBackend(int maxConnectionsPerBackend) {
        this.maxConnectionsPerBackend = maxConnectionsPerBackend;
    }

    public int getIdleConnectionTimeoutSeconds() {
        return idleConnectionTimeoutSeconds;
    }

    /** A pooled backend connection idle this long is closed (below vLLM's 5 s keep-alive; 0 = never). */
    public void setIdleConnectionTimeoutSeconds(int idleConnectionTimeoutSeconds) {
        this.idleConnectionTimeoutSeconds = idleConnectionTimeoutSeconds;
    }

    public int getEventLoops() {
        return eventLoops;
    }

    public void setEventLoops(int eventLoops) {
        this.eventLoops = eventLoops;
    }

    public boolean isNativeTransport() {
        return nativeTransport;
    }

    /** Linux's epoll through Netty's native transport where it loads (else Java NIO); see config/application.properties. */
    public void setNativeTransport(boolean nativeTransport) {
        this.nativeTransport = nativeTransport;
    }

    public boolean isHttp2() {
        return http2;
    }

    /** HTTP/2 to the backends (h2c on http://, ALPN on https://); see config/application.properties. */
    public void setHttp2(boolean http2) {
        this.http2 = http2;
    }

    public String getRetryableStatusCodes() {
        return retryableStatusCodes;
    }

    public void setRetryableStatusCodes(String retryableStatusCodes) {
        StatusCodes.parse(retryableStatusCodes); // fail at startup, not at the first error
        this.retryableStatusCodes = retryableStatusCodes;
    }

    public int getMaxFailoverAttempts() {
        return maxFailoverAttempts;
    }

    public void setMaxFailoverAttempts(int maxFailoverAttempts) {
        this.maxFailoverAttempts = maxFailoverAttempts;
    }

    public int getEjectConsecutiveFailures() {
        return ejectConsecutiveFailures;
    }

    public void setEjectConsecutiveFailures(int ejectConsecutiveFailures) {
        this.ejectConsecutiveFailures = ejectConsecutiveFailures;
    }

    public long getEjectBaseMs() {
        return ejectBaseMs;
    }

    public void setEjectBaseMs(long ejectBaseMs) {
        this.ejectBaseMs = ejectBaseMs;
    }

    public boolean isHealthChecks() {
        return healthChecks;
    }

    /** Probe every backend periodically (--static-backend-health-checks). */
    public void setHealthChecks(boolean healthChecks) {
        this.healthChecks = healthChecks;
    }

    /** Turns active health checks on or off while the router runs (the dynamic config's static_backend_health_checks). */
    public synchronized void healthChecksNow(boolean on) {
        BackendClient c = client();
        healthChecks = on;
        if (on && healthTimer < 0) {
            healthTimer = c.vertx().setPeriodic(0, healthCheckIntervalMs, id -> probeAll(c));
        } else if (!on && healthTimer >= 0) {
            c.vertx().cancelTimer(healthTimer);
            healthTimer = -1;
            states.values().forEach(BackendState::probesOff);
        }
    }

    public long getHealthCheckIntervalMs() {
        return healthCheckIntervalMs;
    }

    public void setHealthCheckIntervalMs(long healthCheckIntervalMs) {
        this.healthCheckIntervalMs = healthCheckIntervalMs;
    }

    public long getHealthCheckTimeoutMs() {
        return healthCheckTimeoutMs;
    }

    public void setHealthCheckTimeoutMs(long healthCheckTimeoutMs) {
        this.healthCheckTimeoutMs = healthCheckTimeoutMs;
    }

    public String getHealthCheckProbe() {
        return healthCheckProbe;
    }

    /** health (GET /health), models (GET /v1/models) or request (a real max_tokens=1 chat completion). */
    public void setHealthCheckProbe(String healthCheckProbe) {
        if (!Set.of("health", "models", "request").contains(healthCheckProbe)) {
            throw new IllegalArgumentException("health-check-probe must be health, models or request, got '" + healthCheckProbe + "'");
        }
        this.healthCheckProbe = healthCheckProbe;
    }

    public int getUnhealthyThreshold() {
        return unhealthyThreshold;
    }

    public void setUnhealthyThreshold(int unhealthyThreshold) {
        this.unhealthyThreshold = unhealthyThreshold;
    }

    public int getHealthyThreshold() {
        return healthyThreshold;
    }

    public void setHealthyThreshold(int healthyThreshold) {
        this.healthyThreshold = healthyThreshold;
    }

    public String getRoutingLogic() {
        return routingLogic;
    }

    /**
     * roundrobin (weighted), session (consistent hashing on the session-key header) or least-loaded (power of
     * two choices on requests in flight; with a session key, sessions stay sticky and the rest are balanced).
     */
    public void setRoutingLogic(String routingLogic) {
        if (!Set.of("roundrobin", "session", "least-loaded", "prefixaware").contains(routingLogic)) {
            throw new IllegalArgumentException("routing-logic must be roundrobin, session, least-loaded or prefixaware, got '"
                    + routingLogic + "'");
        }
        this.routingLogic = routingLogic;
    }

    public int getPrefixMinMatchLength() {
        return prefixMinMatchLength;
    }

    /** prefixaware: how many leading bytes of the prompt decide the backend (shorter prompts are balanced). */
    public void setPrefixMinMatchLength(int prefixMinMatchLength) {
        this.prefixMinMatchLength = prefixMinMatchLength;
    }

    public String getSessionKey() {
        return sessionKey;
    }

    /** The request header whose value pins a session to a backend (routing-logic session). */
    public void setSessionKey(String sessionKey) {
        this.sessionKey = sessionKey == null || sessionKey.isBlank() ? null : sessionKey.trim();
    }

    public int getMaxAttemptsPerRequest() {
        return maxAttemptsPerRequest;
    }

    /** Backend calls one client request may make in all, across failovers and fallbacks (a retry budget). */
    public void setMaxAttemptsPerRequest(int maxAttemptsPerRequest) {
        this.maxAttemptsPerRequest = maxAttemptsPerRequest;
    }

    public long getRequestTimeBudgetMs() {
        return requestTimeBudgetMs;
    }

    /** After this long no new attempt is started for a request, and an attempt's first-byte wait is cut to fit. */
    public void setRequestTimeBudgetMs(long requestTimeBudgetMs) {
        this.requestTimeBudgetMs = requestTimeBudgetMs;
    }

    public long getEjectMaxMs() {
        return ejectMaxMs;
    }

    public void setEjectMaxMs(long ejectMaxMs) {
        this.ejectMaxMs = ejectMaxMs;
    }
}
