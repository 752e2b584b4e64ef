package io.github.camelllmrouter.catalogue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.github.camelllmrouter.backend.LlmComponent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vLLM router's {@code --dynamic-config-json} / {@code --dynamic-config-yaml}: a file with the router's
 * fields ({@code static_backends}, {@code static_models}, {@code routing_logic}, ...) that is watched and, when it
 * changes, checked and applied as one: its model routes through {@link LiveRoutes} (the same routes the flags
 * make), then the routing logic and session key. A file that does not pass changes nothing.
 */
public final class DynamicConfig implements AutoCloseable {

    public static final String BEAN = "dynamicConfig";
    private static final Logger LOG = LoggerFactory.getLogger(DynamicConfig.class);

    /** The fields, each the twin of a flag (static_backends is --static-backends). */
    static final Set<String> FIELDS = Set.of("service_discovery", "routing_logic", "session_key", "static_backends",
            "static_models", "static_aliases", "static_model_types", "static_backend_weights", "static_fallback_models",
            "static_backend_health_checks", "k8s_namespace", "k8s_port", "k8s_label_selector");
    /** Fields applied when given (at start), and otherwise left to the flags and config file. */
    static final Set<String> WHEN_GIVEN = Set.of("static_backend_health_check_interval",
            "static_backend_health_check_timeout_seconds");
    /** Fields of the vLLM router's DynamicRouterConfig that configure what this router does not have: a warning. */
    static final Set<String> IGNORED = Set.of("callbacks", "static_model_labels", "prefill_model_labels", "decode_model_labels");
    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();
    static final Set<String> LOGICS = Set.of("roundrobin", "session", "least-loaded", "prefixaware");

    private final Path file;
    private final LiveRoutes live;
    private final LlmComponent llm;
    private final Discovery discovery;
    private final String source;
    private final boolean json;
    /** The router.* keys of the config file and the flags, less those the fields stand for. */
    private final Map<String, String> base;
    private String lastYaml;
    private final ScheduledExecutorService watcher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dynamic-config");
        t.setDaemon(true);
        return t;
    });
    private volatile Map<String, Object> current;
    private String seen;
    private String appliedSignature;
    private String failedText;

    private DynamicConfig(Path file, boolean json, Map<String, Object> initial, Map<String, String> base, LiveRoutes live,
            LlmComponent llm, Discovery discovery, String source) {
        this.file = file;
        this.json = json;
        this.base = Map.copyOf(base);
        this.lastYaml = yaml(ModelCatalogue.fromRouterProperties(effective(initial)));
        this.current = initial;
        this.live = live;
        this.llm = llm;
        this.discovery = discovery;
        this.source = source;
        // not the file's signature now: a save made since the router read it must still be seen
        this.appliedSignature = null;
        this.seen = LiveRoutes.signature(file);
    }

    /**
     * Watches {@code file} (JSON, or YAML), whose content {@code initial} the router started with, laid over
     * {@code base} (the router.* keys of the config file and the flags, as at start); the routes it makes are the
     * source {@code source} of {@code live}.
     */
    public static DynamicConfig watch(Path file, boolean json, Map<String, Object> initial, Map<String, String> base,
            LiveRoutes live, LlmComponent llm, Discovery discovery, String source, long pollMs) {
        DynamicConfig d = new DynamicConfig(file, json, initial, base, live, llm, discovery, source);
        d.watcher.scheduleWithFixedDelay(d::poll, pollMs, pollMs, TimeUnit.MILLISECONDS);
        return d;
    }

    /** The config now in effect, as the file gave it (for /health, as the vLLM router shows it). */
    public Map<String, Object> current() {
        return current;
    }

    /**
     * Reads and checks a dynamic config file.
     *
     * @throws IllegalArgumentException naming the file and what is wrong
     */
    public static Map<String, Object> read(Path file, boolean json) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the dynamic config " + file + ": " + e.getMessage());
        }
        try {
            return parse(text, json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the dynamic config " + file + " " + e.getMessage());
        }
    }

    /** @throws IllegalArgumentException saying what is wrong, starting "is" or "has" */
    static Map<String, Object> parse(String text, boolean json) {
        boolean yaml = !json;
        ObjectMapper mapper = yaml ? new ObjectMapper(new YAMLFactory()) : new ObjectMapper();
        Map<String, Object> config;
        try {
            config = mapper.readValue(text, new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (IOException e) {
            throw new IllegalArgumentException("is not valid " + (yaml ? "YAML" : "JSON") + ": "
                    + e.getMessage().replaceAll("\\s+", " "));
        }
        if (config == null) {
            throw new IllegalArgumentException("is empty");
        }
        for (String key : IGNORED) {
            if (config.remove(key) != null && WARNED.add(key)) {
                LOG.warn("dynamic config field {} configures what this router does not have: ignored", key);
            }
        }
        flattenModels(config);
        flattenAliases(config);
        for (String key : config.keySet()) {
            if (!FIELDS.contains(key) && !WHEN_GIVEN.contains(key)) {
                throw new IllegalArgumentException("has an unknown field '" + key + "' (known: "
                        + Stream.concat(FIELDS.stream(), WHEN_GIVEN.stream()).sorted()
                        .collect(Collectors.joining(", ")) + ")");
            }
        }
        String logic = string(config, "routing_logic");
        if (logic != null && !LOGICS.contains(logic)) {
            throw new IllegalArgumentException("has routing_logic '" + logic + "': it must be roundrobin, session, least-loaded or prefixaware");
        }
        return config;
    }

    /**
     * vLLM's mapping form of {@code static_models} (PR #921's per-model YAML): model -> {@code static_backends} (a
     * list), {@code static_model_type}, {@code fallback_model}, as the comma lists the flags take.
     */
    @SuppressWarnings("unchecked")
    private static void flattenModels(Map<String, Object> config) {
        if (!(config.get("static_models") instanceof Map<?, ?> models)) {
            return;
        }
        if (config.containsKey("static_backends") || config.containsKey("static_model_types")) {
            throw new IllegalArgumentException("has static_models as a mapping (each model with its static_backends) and a"
                    + " top-level static_backends or static_model_types too: give one form");
        }
        List<String> backends = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<String> types = new ArrayList<>();
        List<String> fallbacks = new ArrayList<>();
        for (Map.Entry<?, ?> m : models.entrySet()) {
            String model = String.valueOf(m.getKey());
            if (!(m.getValue() instanceof Map<?, ?> spec)) {
                throw new IllegalArgumentException("has static_models." + model + " that is not a mapping (static_backends, "
                        + "static_model_type, fallback_model)");
            }
            for (Object key : spec.keySet()) {
                if (!Set.of("static_backends", "static_model_type", "fallback_model").contains(String.valueOf(key))) {
                    throw new IllegalArgumentException("has an unknown field static_models." + model + "." + key
                            + " (known: static_backends, static_model_type, fallback_model)");
                }
            }
            Object list = spec.get("static_backends");
            List<Object> urls = list instanceof List<?> l ? (List<Object>) l : list == null ? List.of() : List.of(list);
            if (urls.isEmpty()) {
                throw new IllegalArgumentException("has static_models." + model + " with no static_backends");
            }
            String type = spec.get("static_model_type") == null ? "chat" : String.valueOf(spec.get("static_model_type"));
            for (Object url : urls) {
                backends.add(String.valueOf(url));
                names.add(model);
                types.add(type);
            }
            if (spec.get("fallback_model") != null) {
                fallbacks.add(model + ":" + spec.get("fallback_model"));
            }
        }
        config.put("static_backends", String.join(",", backends));
        config.put("static_models", String.join(",", names));
        config.put("static_model_types", String.join(",", types));
        if (!fallbacks.isEmpty()) {
            String given = string(config, "static_fallback_models");
            config.put("static_fallback_models", given == null ? String.join(",", fallbacks) : given + "," + String.join(",", fallbacks));
        }
    }

    /** vLLM's mapping form of {@code static_aliases}: alias -> model. */
    private static void flattenAliases(Map<String, Object> config) {
        if (config.get("static_aliases") instanceof Map<?, ?> aliases) {
            config.put("static_aliases", aliases.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue())
                    .collect(Collectors.joining(",")));
        }
    }

    /** The router.* keys the fields stand for: with a dynamic config, the file alone sets them. */
    public static List<String> routerKeys() {
        return FIELDS.stream().map(f -> "router." + f.replace('_', '-')).toList();
    }

    /** The fields as router.* configuration keys (lists given as JSON arrays are joined with commas). */
    public static Map<String, String> asRouterProperties(Map<String, Object> config) {
        Map<String, String> p = new LinkedHashMap<>();
        for (String key : config.keySet()) {
            String v = string(config, key);
            if (v != null) {
                p.put("router." + key.replace('_', '-'), v);
            }
        }
        return p;
    }

    /** The router.* keys in effect with {@code config}: the base keys with the file's fields laid over them. */
    private Map<String, String> effective(Map<String, Object> config) {
        Map<String, String> p = new LinkedHashMap<>(base);
        p.putAll(asRouterProperties(config));
        return p;
    }

    private static String prop(Map<String, String> p, String key, String def) {
        return ModelCatalogue.routerKey(p, key, def);
    }

    private static String yaml(ModelCatalogue catalogue) {
        return catalogue.isEmpty() ? "[]\n" : RoutesYaml.of(catalogue);
    }

    private static String string(Map<String, Object> config, String key) {
        Object v = config.get(key);
        if (v == null) {
            return null;
        }
        String s = v instanceof List<?> list ? list.stream().map(String::valueOf).collect(Collectors.joining(","))
                : String.valueOf(v);
        return s.isBlank() ? null : s.trim();
    }

    private void poll() {
        try {
            String now = LiveRoutes.signature(file);
            if (!now.equals(seen)) {
                seen = now; // being written: apply once a poll sees it settled
                return;
            }
            if (now.equals(appliedSignature) || "gone".equals(now)) {
                return;
            }
            String text = Files.readString(file);
            if (text.isBlank() || text.equals(failedText)) {
                return;
            }
            apply(text);
            appliedSignature = now;
        } catch (Exception e) {
            LOG.warn("watching the dynamic config {} failed: {}", file, e.toString());
        }
    }

    /**
     * Checks and applies a new text of the file, or changes nothing. Its routes change through {@link LiveRoutes}
     * in one step: the static catalogue's, and when discovery is turned off, the discovered models' routes too.
     * Then discovery starts, stops or is pointed elsewhere, and the routing logic, session key and health checks
     * are set.
     */
    synchronized void apply(String text) {
        Map<String, Object> next;
        Map<String, String> now;
        ModelCatalogue catalogue;
        boolean k8s;
        try {
            next = parse(text, json);
            if (next.equals(current)) {
                failedText = null;
                return; // the config in effect, saved again
            }
            now = effective(next);
            String mode = prop(now, "service-discovery", "static");
            if (!"static".equals(mode) && !"k8s".equals(mode)) {
                throw new IllegalArgumentException("has service_discovery '" + mode + "': it must be static or k8s");
            }
            k8s = "k8s".equals(mode);
            if (k8s && prop(now, "static-backends", null) != null) {
                throw new IllegalArgumentException("has static_backends with service_discovery k8s: the pods are the backends");
            }
            String port = prop(now, "k8s-port", "8000");
            if (!port.matches("\\d{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
                throw new IllegalArgumentException("has k8s_port '" + port + "': it must be a port number");
            }
            if ("session".equals(prop(now, "routing-logic", "roundrobin")) && prop(now, "session-key", null) == null) {
                throw new IllegalArgumentException("has routing_logic session, which needs session_key");
            }
            try {
                catalogue = ModelCatalogue.fromRouterProperties(now);
            } catch (IllegalArgumentException e) {
                // the catalogue speaks in flags; this file has fields
                Matcher flag = Pattern.compile("--([a-z-]+)").matcher(e.getMessage());
                throw new IllegalArgumentException("is invalid: " + flag.replaceAll(m -> m.group(1).replace('-', '_')));
            }
        } catch (IllegalArgumentException e) {
            refused(text, e.getMessage(), true);
            return;
        }
        // also when an earlier switch-off could not restart discovery and left its routes: they go now
        boolean discoveryOff = !k8s && (discovery.running() || !discovery.sources().isEmpty());
        boolean discoveryOn = k8s && !discovery.running();
        if (discoveryOff) {
            discovery.pause(); // no model found from now on, so every discovered route is in this change
        }
        if (discoveryOn) {
            // the pods are read first, while the static routes still serve; their models' routes then replace
            // the static ones in the same change
            try {
                discovery.start(now, true);
                discovery.initial().get(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                discovery.pause();
                discovery.clear();
                return;
            } catch (Exception e) {
                discovery.pause();
                discovery.clear();
                refused(text, "turns kubernetes discovery on, but it did not start: " + e.getMessage(), true);
                return;
            }
        }
        Map<String, String> changes = new LinkedHashMap<>();
        String yaml = yaml(catalogue);
        if (!yaml.equals(lastYaml)) { // a change of the routing logic alone leaves the routes as they are
            changes.put(source, yaml);
        }
        if (discoveryOff) {
            discovery.sources().forEach(s -> changes.put(s, null));
        }
        try {
            if (discoveryOn) {
                discovery.handOver(changes, source);
            } else if (!changes.isEmpty()) {
                live.apply(changes);
            }
        } catch (LiveRoutes.InvalidRoutes e) {
            if (discoveryOff) {
                try {
                    discovery.start(effective(current)); // as it was
                } catch (RuntimeException restart) {
                    LOG.error("kubernetes discovery could not be started again; its routes stay until a config without it applies: {}",
                            restart.getMessage());
                }
            } else if (discoveryOn) {
                discovery.pause();
                discovery.clear();
            }
            refused(text, e.getMessage(), false); // LiveRoutes counted and showed it
            return;
        }
        lastYaml = yaml;
        if (discoveryOff) {
            discovery.clear();
            LOG.info("dynamic config {}: kubernetes discovery off", file);
        } else if (k8s && !discovery.runs(now)) {
            try {
                discovery.start(now); // pointed elsewhere: the pods found so far serve until the new ones are read
            } catch (RuntimeException e) {
                refused(text, "points kubernetes discovery elsewhere, but the new watch did not start (the old one goes on): "
                        + e.getMessage(), true);
                return;
            }
        }
        llm.setRoutingLogic(prop(now, "routing-logic", "roundrobin"));
        llm.setSessionKey(prop(now, "session-key", null));
        llm.healthChecksNow("true".equalsIgnoreCase(prop(now, "static-backend-health-checks", "false")));
        current = next;
        failedText = null;
        LOG.info("dynamic config {} applied: {} models and aliases{}", file, catalogue.models().size() + catalogue.aliases().size(),
                k8s ? ", and the models of the pods kubernetes discovery finds" : "");
    }

    private void refused(String text, String why, boolean count) {
        failedText = text;
        if (count) {
            live.refused(file.toString(), why);
        }
        LOG.error("dynamic config {} not applied, the previous one stays: it {}", file, why);
    }

    @Override
    public void close() {
        watcher.shutdownNow();
    }
}
