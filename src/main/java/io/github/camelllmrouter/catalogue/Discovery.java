package io.github.camelllmrouter.catalogue;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.github.camelllmrouter.backend.LlmComponent;
import org.apache.camel.CamelContext;
import org.apache.camel.spi.Resource;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --service-discovery k8s}, which the dynamic config can also turn on, off or point elsewhere while the
 * router runs: the pods' {@link DiscoveredBackends} and, for each model first seen, a route of its own (the
 * source {@code discovered-<model>.camel.yaml}, applied through {@link LiveRoutes} once it runs).
 */
public final class Discovery implements AutoCloseable {

    /** The router.* keys that say where to look (they take effect when discovery starts). */
    static final List<String> KEYS = List.of("k8s-namespace", "k8s-label-selector", "k8s-port", "k8s-watcher-timeout-seconds",
            "k8s-api-url", "k8s-trust-certs");
    private static final Logger LOG = LoggerFactory.getLogger(Discovery.class);

    private final CamelContext context;
    private final DiscoveredBackends registry;
    // routes are built off the thread that found the model (a Vert.x event loop must not wait for that)
    private final ExecutorService routes = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "discovered-routes");
        t.setDaemon(true);
        return t;
    });
    private final Set<String> sources = new LinkedHashSet<>();
    private LiveRoutes live;
    private K8sDiscovery informer;
    private KubernetesClient kubernetes;
    private Map<String, String> running;
    private boolean handingOver; // between start(rp, true) and handOver: models found wait for the hand-over

    public Discovery(CamelContext context) {
        this.context = context;
        this.registry = new DiscoveredBackends(model -> routes.execute(() -> newModel(model)));
        context.getRegistry().bind(DiscoveredBackends.BEAN, registry);
    }

    /**
     * Watches the pods the router.k8s-* keys of {@code rp} select. A running watch is replaced: the backends it
     * found keep serving until the new selection has been read, then those it does not have are forgotten.
     */
    public synchronized void start(Map<String, String> rp) {
        start(rp, false);
    }

    /**
     * As {@link #start(Map)}; with {@code handOver}, models found get no route until {@link #handOver}, which
     * applies them together with the change that makes way for them.
     */
    public synchronized void start(Map<String, String> rp, boolean handOver) {
        boolean replacing = informer != null || !registry.backends().isEmpty();
        ConfigBuilder config = new ConfigBuilder();
        String api = ModelCatalogue.routerKey(rp, "k8s-api-url", null);
        if (api != null) {
            config.withMasterUrl(api).withTrustCerts("true".equalsIgnoreCase(ModelCatalogue.routerKey(rp, "k8s-trust-certs", "false")));
        }
        // the new watch first: if it cannot be made, the running one goes on
        KubernetesClient client = new KubernetesClientBuilder()
                .withConfig(config.build()).build();
        String namespace = ModelCatalogue.routerKey(rp, "k8s-namespace",
                client.getNamespace() != null ? client.getNamespace() : "default");
        K8sDiscovery started;
        try {
            started = new K8sDiscovery(client, namespace, ModelCatalogue.routerKey(rp, "k8s-label-selector", null),
                    Integer.parseInt(ModelCatalogue.routerKey(rp, "k8s-port", "8000")),
                    Long.parseLong(ModelCatalogue.routerKey(rp, "k8s-watcher-timeout-seconds", "0")) * 1000,
                    context.getComponent("llm", LlmComponent.class).client(), registry);
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
        pause();
        informer = started;
        kubernetes = client;
        running = keys(rp);
        handingOver = handOver;
        if (replacing) {
            // what the old watch found and the new one does not have leaves once the new one has been read
            // (off the event loop that finished the last read: this takes the lock)
            started.initial().thenRunAsync(() -> {
                synchronized (Discovery.this) {
                    if (informer == started) {
                        registry.backends().stream().filter(url -> !started.found().contains(url)).forEach(registry::remove);
                    }
                }
            }, routes);
        }
        LOG.info("kubernetes discovery: namespace {}, label selector {}, port {}", namespace,
                ModelCatalogue.routerKey(rp, "k8s-label-selector", "(none)"), ModelCatalogue.routerKey(rp, "k8s-port", "8000"));
    }

    /** Stops watching; the backends found so far stay until {@link #clear()}. */
    public synchronized void pause() {
        if (informer != null) {
            informer.close();
            kubernetes.close();
            informer = null;
            kubernetes = null;
        }
        running = null;
    }

    /** Forgets every backend found (their producers stop) and the sources of the routes made for them. */
    public synchronized void clear() {
        registry.backends().forEach(registry::remove);
        sources.clear();
        handingOver = false;
    }

    /** Completes once the running watch has read its first list of pods (see {@link K8sDiscovery#initial()}). */
    public synchronized CompletableFuture<Void> initial() {
        return informer == null ? CompletableFuture.completedFuture(null) : informer.initial();
    }

    /**
     * Applies {@code changes} and the routes of the models found since {@code start(rp, true)} as one change, so
     * a model moves from the routes {@code changes} replaces to its discovered route with no gap. From then on a
     * model found gets its route at once. A route loaded from {@code replaced} does not count as serving a model.
     */
    public synchronized void handOver(Map<String, String> changes, String replaced) throws LiveRoutes.InvalidRoutes {
        Map<String, String> found = new LinkedHashMap<>();
        // the registry's models, not those newModel was told of: that runs on its own thread, maybe later
        for (String model : registry.models()) {
            ModelConsumer serving = ModelComponent.of(context).current(model);
            Resource from = serving == null || serving.getRoute() == null ? null
                    : serving.getRoute().getSourceResource();
            String location = from == null ? null : from.getLocation();
            if (serving == null || location != null && (location.equals(replaced) || location.endsWith(":" + replaced))) {
                found.put(source(model), RoutesYaml.discovered(model));
            }
        }
        Map<String, String> all = new LinkedHashMap<>(changes);
        all.putAll(found);
        try {
            if (!all.isEmpty()) {
                live.apply(all);
            }
            sources.addAll(found.keySet());
        } finally {
            handingOver = false; // on failure the caller stops and clears this discovery
        }
    }

    /** Whether it watches now, and with the same router.k8s-* keys as {@code rp}. */
    public synchronized boolean runs(Map<String, String> rp) {
        return running != null && running.equals(keys(rp));
    }

    public synchronized boolean running() {
        return running != null;
    }

    /** The sources of the discovered models' routes. */
    public synchronized Set<String> sources() {
        return Set.copyOf(sources);
    }

    /** From now on, a discovered model's route is applied through {@code live}, which {@code start} makes. */
    public synchronized LiveRoutes attach(Supplier<LiveRoutes> start) {
        live = start.get();
        return live;
    }

    /** The source of a discovered model's route; a name the slug changed gets a hash, so two never share one. */
    private static String source(String model) {
        String slug = RoutesYaml.slug(model);
        return "discovered-" + slug + (slug.equals(model) ? "" : "-" + Integer.toHexString(model.hashCode())) + ".camel.yaml";
    }

    private synchronized void newModel(String model) {
        if (running == null) {
            return; // stopped meanwhile
        }
        if (handingOver) {
            return; // its route comes with the hand-over
        }
        if (ModelComponent.of(context).serves(model)) {
            return; // a route file (or an earlier pod) serves it already
        }
        String source = source(model);
        try {
            if (live != null) {
                live.apply(Map.of(source, RoutesYaml.discovered(model)));
            } else {
                PluginHelper.getRoutesLoader(context).loadRoutes(ResourceHelper.fromString(source, RoutesYaml.discovered(model)));
            }
            sources.add(source);
        } catch (Exception e) {
            LOG.error("the route of discovered model {} did not load: {}", model, e.getMessage());
        }
    }

    private static Map<String, String> keys(Map<String, String> rp) {
        Map<String, String> k = new TreeMap<>();
        for (String key : KEYS) {
            k.put(key, ModelCatalogue.routerKey(rp, key, ""));
        }
        return k;
    }

    @Override
    public synchronized void close() {
        pause();
        routes.shutdownNow();
    }
}
