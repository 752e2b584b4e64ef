package io.github.camelllmrouter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The vLLM production-stack router's command line. Every option is also a key in config/application.properties
 * ({@code --static-backends} is {@code router.static-backends}); an option given here wins over the file.
 */
@Command(name = "camel-llm-router", mixinStandardHelpOptions = false, sortOptions = false,
         description = "OpenAI-compatible LLM request router built from Apache Camel routes.%n"
                       + "Flags follow the vLLM production-stack router; each is also the config key router.<flag-name>.%n"
                       + "Without backends it starts demo backends of its own so it answers out of the box.")
public class RouterOptions {

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Option(names = "--version", versionHelp = true, description = "Print the version and exit.")
    boolean version;

    @Option(names = "--host", description = "Address to listen on (default 0.0.0.0).")
    String host;

    @Option(names = "--port", description = "Port to listen on (default 8001).")
    String port;

    @Option(names = "--root-path", description = "Path prefix the API is also served under, behind a proxy (e.g. /llm).")
    String rootPath;

    @Option(names = "--service-discovery", description = "static (the --static-* flags) or k8s (watch pods).")
    String serviceDiscovery;

    @Option(names = "--k8s-service-discovery-type", description = "pod-ip (default): each ready pod's IP is a backend. service-name: not supported yet.")
    String k8sServiceDiscoveryType;

    @Option(names = "--static-backends", description = "Comma-separated backend URLs, e.g. http://10.0.0.1:8000,http://10.0.0.2:8000.")
    String staticBackends;

    @Option(names = "--static-models", description = "Comma-separated model served by each backend, aligned with --static-backends (use ; for several).")
    String staticModels;

    @Option(names = "--static-aliases", description = "Comma-separated alias:model pairs.")
    String staticAliases;

    @Option(names = "--static-model-types", description = "Comma-separated type of each backend's model: chat, completion, embeddings, rerank, score, ...")
    String staticModelTypes;

    @Option(names = "--static-backend-weights", description = "Comma-separated weight of each backend in its model's split (default 1 each; 0 = standby).")
    String staticBackendWeights;

    @Option(names = "--static-fallback-models", description = "Comma-separated model:fallback pairs; a chain a:b,b:c is allowed, a cycle is refused.")
    String staticFallbackModels;

    @Option(names = "--max-instance-failover-reroute-attempts", description = "Other backends of the same model to try after a retryable failure (default 2).")
    String maxInstanceFailoverRerouteAttempts;

    @Option(names = "--static-backend-health-checks", arity = "0..1", fallbackValue = "true", description = "Probe every backend periodically; one that fails its probes leaves rotation until it passes again.")
    String staticBackendHealthChecks;

    @Option(names = "--static-backend-health-check-interval", description = "Seconds between health probes (default 60).")
    String staticBackendHealthCheckInterval;

    @Option(names = "--static-backend-health-check-timeout-seconds", description = "Seconds a probe may take (default 10).")
    String staticBackendHealthCheckTimeoutSeconds;

    @Option(names = "--backend-health-check-timeout-seconds", description = "Same as --static-backend-health-check-timeout-seconds (the vLLM router's k8s-mode name).")
    String backendHealthCheckTimeoutSeconds;

    @Option(names = "--k8s-port", description = "Port the model server listens on in each pod (default 8000).")
    String k8sPort;

    @Option(names = "--k8s-namespace", description = "Namespace to watch (default: the client's, else default).")
    String k8sNamespace;

    @Option(names = "--k8s-label-selector", description = "Label selector of the model-server pods, e.g. app=vllm.")
    String k8sLabelSelector;

    @Option(names = "--k8s-watcher-timeout-seconds", description = "Resync period of the pod watch in seconds (0 = none, default).")
    String k8sWatcherTimeoutSeconds;

    @Option(names = "--routing-logic", description = "roundrobin (weighted by --static-backend-weights), session (consistent hashing on --session-key) least-loaded (power of two choices on requests in flight) or prefixaware (same prompt prefix, same backend, bounded load).")
    String routingLogic;

    @Option(names = "--session-key", description = "With --routing-logic session: the request header that pins a session to a backend.")
    String sessionKey;

    @Option(names = "--engine-stats-interval", description = "Seconds between scrapes of each backend's /metrics (running, waiting, KV cache, prefix cache); 0 = off (default 30, as the vLLM router).")
    String engineStatsInterval;

    @Option(names = "--request-stats-window", description = "Seconds over which the per-backend vllm:current_qps, vllm:avg_latency, vllm:avg_itl gauges are computed (default 60).")
    String requestStatsWindow;

    @Option(names = "--log-stats", arity = "0..1", fallbackValue = "true", description = "Log one stats line per backend every --log-stats-interval seconds.")
    String logStats;

    @Option(names = "--log-stats-interval", description = "Seconds between stats lines (default 10).")
    String logStatsInterval;

    @Option(names = "--dynamic-config-yaml", description = "A YAML file with the router's fields (static_backends, static_models, "
            + "routing_logic, ...), watched: a valid change is applied live, an invalid one changes nothing.")
    String dynamicConfigYaml;

    @Option(names = "--dynamic-config-json", description = "The same as a JSON file, as in the vLLM router.")
    String dynamicConfigJson;

    @Option(names = "--log-level", description = "debug, info, warning, error or critical (default info).")
    String logLevel;

    @Option(names = "--log-format", description = "text (default) or json: one JSON object per log line, the access log included.")
    String logFormat;

    @Option(names = "--otel-endpoint", description = "OTLP/gRPC endpoint (e.g. http://127.0.0.1:4317): turns tracing on.")
    String otelEndpoint;

    @Option(names = "--otel-service-name", description = "service.name of the spans (default camel-llm-router).")
    String otelServiceName;

    @Option(names = "--otel-secure", arity = "0..1", fallbackValue = "true", description = "Use TLS to an endpoint given without a scheme.")
    String otelSecure;

    @Option(names = "--prefix-min-match-length", description = "prefixaware: leading bytes of the prompt that pick the backend (default 256).")
    String prefixMinMatchLength;

    @Option(names = "--print-routes", description = "Print the model routes this configuration makes, as YAML for routes/, and exit.")
    boolean printRoutes;

    @Option(names = "--sentry-dsn", description = "Report the router's own unexpected errors to this Sentry DSN.")
    String sentryDsn;

    @Option(names = "--sentry-traces-sample-rate", description = "Share of requests Sentry traces (0 to 1; default 0).")
    String sentryTracesSampleRate;

    @Option(names = "--api-keys-file", description = "A YAML file of inbound API keys (names, SHA-256s, models, expiry, limits), watched; "
            + "requests then need one (401/403). Off without it.")
    String apiKeysFile;

    @Option(names = "--rate-limit-redis-url", description = "redis://host:port: the keys file's rate limits are shared by every replica there.")
    String rateLimitRedisUrl;

    @Option(names = "--rate-limit-redis-failure", description = "open (default: each replica counts alone while Redis is unreachable) or closed (503).")
    String rateLimitRedisFailure;

    @Option(names = "--admin-api-key", description = "env:NAME or file:/path of the admin key /metrics and the detailed /health then need.")
    String adminApiKey;

    @Option(names = "--management-port", description = "A port of its own for /metrics and the detailed /health (0 = off).")
    String managementPort;

    @Option(names = "--management-host", description = "The address the management port listens on (default: --host).")
    String managementHost;

    @Option(names = "--request-rewriter", description = "noop (the only value the vLLM router has).")
    String requestRewriter;

    /**
     * vLLM router flags that configure what this router does not have (LMCache, prefill/decode disaggregation,
     * the semantic cache, the batch API, Python callbacks, Sentry, external providers): taken off the command line
     * before it is parsed, so that a vLLM deployment's command line starts the router, and named in one warning.
     */
    static final Set<String> IGNORED = Set.of("--callbacks", "--feature-gates",
            "--sentry-profile-session-sample-rate", "--file-storage-class",
            "--file-storage-path", "--batch-processor", "--lmcache-controller-port", "--lmcache-controller-reply-port",
            "--lmcache-controller-heartbeat-port", "--lmcache-health-check-interval", "--lmcache-worker-timeout",
            "--prefill-model-labels", "--decode-model-labels", "--kv-aware-threshold", "--semantic-cache-model",
            "--semantic-cache-dir", "--semantic-cache-threshold", "--external-providers-config", "--static-model-labels");
    /** The same, for the flags that take no value. */
    static final Set<String> IGNORED_SWITCHES = Set.of("--enable-batch-api");

    /** The arguments without the ignored flags (and their values); their names go into {@code ignored}. */
    static String[] withoutIgnored(String[] args, Set<String> ignored) {
        List<String> kept = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (IGNORED_SWITCHES.contains(name)) {
                ignored.add(name);
            } else if (IGNORED.contains(name)) {
                ignored.add(name);
                if (!a.contains("=") && i + 1 < args.length && !args[i + 1].startsWith("--")) {
                    i++; // its value
                }
            } else {
                kept.add(a);
            }
        }
        return kept.toArray(new String[0]);
    }

    /** The options given on the command line, as config keys (router.<flag-name>). */
    Map<String, String> asProperties() {
        Map<String, String> p = new LinkedHashMap<>();
        put(p, "host", host);
        put(p, "port", port);
        put(p, "root-path", rootPath);
        put(p, "service-discovery", serviceDiscovery);
        put(p, "k8s-service-discovery-type", k8sServiceDiscoveryType);
        put(p, "static-backends", staticBackends);
        put(p, "static-models", staticModels);
        put(p, "static-aliases", staticAliases);
        put(p, "static-model-types", staticModelTypes);
        put(p, "static-backend-weights", staticBackendWeights);
        put(p, "static-fallback-models", staticFallbackModels);
        put(p, "max-instance-failover-reroute-attempts", maxInstanceFailoverRerouteAttempts);
        put(p, "static-backend-health-checks", staticBackendHealthChecks);
        put(p, "static-backend-health-check-interval", staticBackendHealthCheckInterval);
        put(p, "static-backend-health-check-timeout-seconds", staticBackendHealthCheckTimeoutSeconds);
        put(p, "backend-health-check-timeout-seconds", backendHealthCheckTimeoutSeconds);
        put(p, "k8s-port", k8sPort);
        put(p, "k8s-namespace", k8sNamespace);
        put(p, "k8s-label-selector", k8sLabelSelector);
        put(p, "k8s-watcher-timeout-seconds", k8sWatcherTimeoutSeconds);
        put(p, "routing-logic", routingLogic);
        put(p, "session-key", sessionKey);
        put(p, "engine-stats-interval", engineStatsInterval);
        put(p, "request-stats-window", requestStatsWindow);
        put(p, "log-stats", logStats);
        put(p, "log-stats-interval", logStatsInterval);
        put(p, "dynamic-config-yaml", dynamicConfigYaml);
        put(p, "dynamic-config-json", dynamicConfigJson);
        put(p, "log-level", logLevel);
        put(p, "log-format", logFormat);
        put(p, "otel-endpoint", otelEndpoint);
        put(p, "otel-service-name", otelServiceName);
        put(p, "otel-secure", otelSecure);
        put(p, "prefix-min-match-length", prefixMinMatchLength);
        put(p, "request-rewriter", requestRewriter);
        put(p, "sentry-dsn", sentryDsn);
        put(p, "sentry-traces-sample-rate", sentryTracesSampleRate);
        put(p, "api-keys-file", apiKeysFile);
        put(p, "rate-limit-redis-url", rateLimitRedisUrl);
        put(p, "rate-limit-redis-failure", rateLimitRedisFailure);
        put(p, "admin-api-key", adminApiKey);
        put(p, "management-port", managementPort);
        put(p, "management-host", managementHost);
        return p;
    }

    private static void put(Map<String, String> p, String flag, String value) {
        if (value != null) {
            p.put("router." + flag, value);
        }
    }
}
