package io.github.camelllmrouter.catalogue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.RoutesBuilder;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.builder.RouteConfigurationBuilder;
import org.apache.camel.model.CircuitBreakerDefinition;
import org.apache.camel.model.Model;
import org.apache.camel.model.ProcessorDefinition;
import org.apache.camel.model.RouteConfigurationDefinition;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.SendDefinition;
import org.apache.camel.model.ToDynamicDefinition;
import org.apache.camel.spi.Resource;
import org.apache.camel.support.EndpointHelper;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live route changes: watches routes/ (and takes the routes made from a dynamic config), checks a change in full
 * before anything of it goes live, and swaps a model's route without a moment in which the model has no route.
 *
 * <p>A change of one or more sources (a file's text, or a deleted file) is applied as one: it is parsed, checked
 * (unique route ids and model names across sources, every {@code model:} target served, no cycle among models),
 * and its routes are built in the live context but not started. Only when all of that succeeded do the new routes
 * start; a route consuming {@code model:<name>} then takes new requests at once, and its old version is retired
 * and removed when the requests inside it are done. Any failure removes what was built and leaves the live routes
 * as they were; it is logged with the source and line, counted, and shown in /health.
 */
public final class LiveRoutes implements AutoCloseable {

    public static final String BEAN = "liveRoutes";
    private static final String DELETED = "deleted";
    private static final Logger LOG = LoggerFactory.getLogger(LiveRoutes.class);

    private final CamelContext context;
    private final Path dir;
    private final long drainTimeoutMs;
    private volatile Set<String> ignored = Set.of();
    private final ScheduledExecutorService watcher = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "live-routes"));
    private final ExecutorService drainer = Executors.newCachedThreadPool(r -> daemon(r, "live-routes-drain"));

    /** What is live per source: a file's absolute path, or the name of a generated source. */
    private final Map<String, Applied> applied = new TreeMap<>();
    /** File signatures seen by the previous poll: a change is applied once a poll sees it settled. */
    private Map<Path, String> seen = Map.of();
    /** The signatures of the poll whose texts are being applied (read after that poll looked at them). */
    private Map<Path, String> polled = Map.of();
    /** Per source, the text whose apply failed (not tried again until it changes). */
    private final Map<String, String> failedHash = new HashMap<>();
    private final AtomicLong succeeded = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong versionCounter = new AtomicLong();
    private volatile Map<String, Object> last = Map.of();
    private volatile Snapshot snapshot = new Snapshot("", List.of());

    private record Snapshot(String version, List<String> sources) {
    }

    private record Applied(String signature, String hash, List<String> routeIds) {
    }

    /** A source's parsed text. */
    private record Parsed(String source, String hash, Resource resource, List<RouteDefinition> routes,
            List<RouteConfigurationDefinition> configurations) {
    }

    public static final class InvalidRoutes extends Exception {
        InvalidRoutes(String message) {
            super(message);
        }
    }

    private LiveRoutes(CamelContext context, Path dir, long drainTimeoutMs) {
        this.context = context;
        this.dir = dir == null ? null : dir.toAbsolutePath().normalize();
        this.drainTimeoutMs = drainTimeoutMs;
    }

    /**
     * Takes over the routes the context runs now (grouped by the source they were loaded from) and, with
     * {@code watchDir}, watches that folder every {@code pollMs}.
     */
    public static LiveRoutes start(CamelContext context, Path watchDir, long pollMs, long drainTimeoutMs) {
        return start(context, watchDir, pollMs, drainTimeoutMs, Set.of());
    }

    /** @param ignored names of files in {@code watchDir} that are not watched (the demo's, when it does not run) */
    public static LiveRoutes start(CamelContext context, Path watchDir, long pollMs, long drainTimeoutMs, Set<String> ignored) {
        LiveRoutes live = new LiveRoutes(context, watchDir, drainTimeoutMs);
        live.ignored = Set.copyOf(ignored);
        live.adopt();
        if (watchDir != null) {
            live.seen = live.scan();
            live.watcher.scheduleWithFixedDelay(live::poll, pollMs, pollMs, TimeUnit.MILLISECONDS);
        }
        context.getRegistry().bind(BEAN, live);
        return live;
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    // ------------------------------------------------------------------ sources

    private synchronized void adopt() {
        Map<String, List<String>> bySource = new LinkedHashMap<>();
        for (Route route : context.getRoutes()) {
            Resource r = route.getSourceResource();
            if (r != null) {
                bySource.computeIfAbsent(sourceOf(r.getLocation()), k -> new ArrayList<>()).add(route.getRouteId());
            }
        }
        bySource.forEach((source, ids) -> {
            String signature = null;
            String hash = null;
            if (isFile(source)) {
                Path file = Path.of(source);
                signature = signature(file);
                hash = readHash(file);
            }
            applied.put(source, new Applied(signature, hash, ids));
        });
        snapshot();
        last = status("started", null, null);
    }

    private static String sourceOf(String location) {
        if (location.startsWith("file:")) {
            return Path.of(location.substring("file:".length())).toAbsolutePath().normalize().toString();
        }
        return location.startsWith("classpath:") || location.startsWith("string:") ? location.substring(location.indexOf(':') + 1) : location;
    }

    private boolean isFile(String source) {
        return dir != null && source.startsWith(dir.toString() + File.separator);
    }

    private Map<Path, String> scan() {
        Map<Path, String> files = new TreeMap<>();
        try (Stream<Path> list = Files.list(dir)) {
            list.filter(p -> p.getFileName().toString().endsWith(".camel.yaml") && !ignored.contains(p.getFileName().toString())
                        && Files.isRegularFile(p))
                .forEach(p -> files.put(p.toAbsolutePath().normalize(), signature(p)));
        } catch (IOException e) {
            LOG.warn("cannot list {}: {}", dir, e.getMessage());
            return seen;
        }
        return files;
    }

    /** Size and modification time: what a poll compares before it reads a file. */
    static String signature(Path file) {
        try {
            return Files.size(file) + "@" + Files.getLastModifiedTime(file).toMillis();
        } catch (IOException e) {
            return "gone";
        }
    }

    private static String readHash(Path file) {
        try {
            return hash(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return null;
        }
    }

    private void poll() {
        try {
            Map<Path, String> now = scan();
            if (!now.equals(seen)) {
                seen = now; // still being written: wait until a poll sees the same
                return;
            }
            Map<String, String> changes = new LinkedHashMap<>();
            synchronized (this) {
                polled = now;
                for (Map.Entry<Path, String> file : now.entrySet()) {
                    String source = file.getKey().toString();
                    Applied a = applied.get(source);
                    if (a != null && file.getValue().equals(a.signature())) {
                        continue;
                    }
                    String text = Files.readString(file.getKey(), StandardCharsets.UTF_8);
                    String hash = hash(text);
                    if (text.isBlank() || hash.equals(failedHash.get(source))) {
                        continue; // an editor's empty intermediate write, or a failure already reported
                    }
                    if (a != null && hash.equals(a.hash())) {
                        applied.put(source, new Applied(file.getValue(), hash, a.routeIds()));
                        continue; // touched, not changed
                    }
                    changes.put(source, text);
                }
                for (String source : applied.keySet()) {
                    if (isFile(source) && !now.containsKey(Path.of(source)) && !DELETED.equals(failedHash.get(source))) {
                        changes.put(source, null);
                    }
                }
            }
            if (!changes.isEmpty()) {
                try {
                    apply(changes);
                } catch (InvalidRoutes e) {
                    // logged and counted by apply
                }
            }
        } catch (Exception e) {
            LOG.warn("watching {} failed: {}", dir, e.toString());
        }
    }

    // ------------------------------------------------------------------ apply

    /**
     * Applies new texts (null: the source is gone) as one change, or nothing of them.
     *
     * @throws InvalidRoutes with the reason, when nothing was applied
     */
    public synchronized void apply(Map<String, String> changes) throws InvalidRoutes {
        long started = System.nanoTime();
        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        List<Parsed> parsed = new ArrayList<>();
        List<String> staged = new ArrayList<>();
        List<RouteConfigurationDefinition> oldConfigurations = new ArrayList<>();
        List<RouteConfigurationDefinition> newConfigurations = new ArrayList<>();
        List<RouteDefinition> removed = new ArrayList<>();
        String where = String.join(", ", changes.keySet().stream().map(this::display).toList());
        try {
            for (Map.Entry<String, String> c : changes.entrySet()) {
                if (c.getValue() != null) {
                    parsed.add(parse(c.getKey(), c.getValue()));
                }
            }
            check(model, changes, parsed);
            // route configurations (error handlers) of a changed source are replaced before its routes are built
            for (Parsed p : parsed) {
                newConfigurations.addAll(p.configurations());
            }
            for (RouteConfigurationDefinition d : model.getRouteConfigurationDefinitions()) {
                if (d.getResource() != null && changes.containsKey(sourceOf(d.getResource().getLocation()))) {
                    oldConfigurations.add(d);
                }
            }
            if (!oldConfigurations.isEmpty() || !newConfigurations.isEmpty()) {
                for (RouteConfigurationDefinition d : oldConfigurations) {
                    model.removeRouteConfiguration(d);
                }
                model.addRouteConfigurations(newConfigurations);
            }
            // build every new route, not started: endpoints, beans and options are resolved here
            List<RouteDefinition> build = new ArrayList<>();
            for (Parsed p : parsed) {
                for (RouteDefinition d : p.routes()) {
                    String id = d.getRouteId();
                    if (context.getRoute(id) != null || staged.contains(id)) {
                        d.setId(id + "~" + versionCounter.incrementAndGet());
                    }
                    d.setAutoStartup("false");
                    d.setResource(p.resource());
                    staged.add(d.getRouteId());
                    build.add(d);
                }
            }
            model.addRouteDefinitions(build);
            swap(changes, parsed, staged, removed);
        } catch (Exception e) {
            for (String id : staged) {
                try {
                    Route r = context.getRoute(id);
                    if (r != null && r.getConsumer() instanceof ModelConsumer consumer
                            && context.getRouteController().getRouteStatus(id).isStarted()) {
                        consumer.retire(); // it may have taken requests already: let them finish
                        drainer.execute(() -> drainAndRemove(id, consumer));
                    } else {
                        removeRoute(model, id, 0);
                    }
                } catch (Exception cleanup) {
                    LOG.warn("could not remove the unapplied route {}: {}", id, cleanup.getMessage());
                }
            }
            if (!oldConfigurations.isEmpty() || !newConfigurations.isEmpty()) {
                try {
                    for (RouteConfigurationDefinition d : newConfigurations) {
                        model.removeRouteConfiguration(d);
                    }
                    model.addRouteConfigurations(oldConfigurations);
                } catch (Exception restore) {
                    LOG.warn("could not restore the route configurations: {}", restore.getMessage());
                }
            }
            for (RouteDefinition d : removed) {
                try {
                    d.setAutoStartup("true");
                    model.addRouteDefinition(d);
                    LOG.warn("route {} put back", d.getRouteId());
                } catch (Exception restore) {
                    LOG.error("could not put back route {}: {}", d.getRouteId(), restore.getMessage());
                }
            }
            // not tried again until they change, or until another change succeeds (which may have fixed them)
            changes.forEach((source, text) -> failedHash.put(source, text == null ? DELETED : hash(text)));
            String reason = reason(e);
            // a route that fails to build: name it as written, with its line
            for (Parsed p : parsed) {
                for (RouteDefinition d : p.routes()) {
                    String id = d.getRouteId();
                    if (staged.contains(id) && reason.contains(id)) {
                        String written = baseId(id);
                        int line = lineOfFailedEndpoint(d.getOutputs(), reason);
                        line = line > 0 ? line : d.getLineNumber();
                        reason = "route '" + written + "'" + (line > 0 ? ", line " + line : "")
                                + ": " + reason.replace(id, written);
                        break;
                    }
                }
            }
            LOG.error("routes not changed: {} is invalid: {}", where, reason);
            refused(where, reason);
            throw new InvalidRoutes(where + ": " + reason);
        }
        failedHash.clear();
        snapshot();
        succeeded.incrementAndGet();
        last = status("succeeded", where, null);
        LOG.info("routes changed: {} applied in {} ms (config version {})", where,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), version());
    }

    private Parsed parse(String source, String text) throws Exception {
        String location = isFile(source) ? "file:" + source : source;
        Resource resource = ResourceHelper.fromString(location, text);
        List<RouteDefinition> routes = new ArrayList<>();
        List<RouteConfigurationDefinition> configurations = new ArrayList<>();
        Collection<RoutesBuilder> builders = PluginHelper.getRoutesLoader(context).findRoutesBuilders(resource);
        for (RoutesBuilder b : builders) {
            if (!(b instanceof RouteBuilder rb)) {
                throw new InvalidRoutes("unsupported content");
            }
            routes.addAll(rb.configureRoutes(context).getRoutes());
            if (rb instanceof RouteConfigurationBuilder rcb) {
                rcb.configuration();
                configurations.addAll(rcb.getRouteConfigurationCollection().getRouteConfigurations());
            }
            if (!rb.getRouteTemplateCollection().getRouteTemplates().isEmpty() || !rb.getRestCollection().getRests().isEmpty()
                    || !rb.getTemplatedRouteCollection().getTemplatedRoutes().isEmpty()) {
                throw new InvalidRoutes("route templates, templated routes and REST definitions are not reloaded live: restart to apply them");
            }
        }
        for (RouteConfigurationDefinition c : configurations) {
            c.setResource(resource);
        }
        for (RouteDefinition r : routes) {
            if (r.getRouteId() == null || r.getRouteId().isBlank()) {
                throw new InvalidRoutes("every route needs an id (route from " + r.getInput().getEndpointUri() + " has none)");
            }
        }
        return new Parsed(source, hash(text), resource, routes, configurations);
    }

    /** Route ids and model names unique across sources, every model: target served, no cycle among models. */
    private void check(Model model, Map<String, String> changes, List<Parsed> parsed) throws InvalidRoutes {
        Map<String, String> idOwner = new HashMap<>();
        Map<String, String> modelOwner = new HashMap<>();
        Map<String, Set<String>> edges = new HashMap<>();
        Map<String, String> targetUser = new HashMap<>();
        for (Map.Entry<String, Applied> a : applied.entrySet()) {
            if (changes.containsKey(a.getKey())) {
                continue;
            }
            for (String id : a.getValue().routeIds()) {
                idOwner.put(baseId(id), a.getKey());
                RouteDefinition d = model.getRouteDefinition(id);
                if (d != null) {
                    graph(d, a.getKey(), modelOwner, edges, null, null);
                }
            }
        }
        // routes not loaded from a tracked source (discovered models) count as served, never as changed
        for (Route r : context.getRoutes()) {
            if (r.getEndpoint() instanceof ModelEndpoint m && !isTracked(r.getRouteId())
                    && !(r.getConsumer() instanceof ModelConsumer c && c.isRetired())) { // not one being drained
                modelOwner.putIfAbsent(m.getName(), "discovery");
            }
        }
        for (Parsed p : parsed) {
            for (RouteDefinition d : p.routes()) {
                graph(d, p.source(), modelOwner, edges, targetUser, p); // a model served twice says more than an id
                String other = idOwner.putIfAbsent(d.getRouteId(), p.source());
                if (other != null) {
                    throw new InvalidRoutes("route id '" + d.getRouteId() + "' in " + display(p.source())
                            + " is already used by " + display(other));
                }
            }
        }
        for (Map.Entry<String, String> t : targetUser.entrySet()) {
            if (!modelOwner.containsKey(t.getKey())) {
                throw new InvalidRoutes(t.getValue() + " sends to model:" + t.getKey() + ", which no route serves");
            }
        }
        // a cycle among models (fallbacks, aliases) would pass a request round until its hop limit
        Map<String, Integer> mark = new HashMap<>();
        Set<String> starts = new LinkedHashSet<>();
        for (Parsed p : parsed) {
            for (RouteDefinition d : p.routes()) {
                String m = modelName(d.getInput().getEndpointUri());
                if (m != null) {
                    starts.add(m); // so the cycle is told from the model just saved
                }
            }
        }
        starts.addAll(edges.keySet());
        for (String m : starts) {
            List<String> cycle = cycle(m, edges, mark, new ArrayList<>());
            if (cycle != null) {
                throw new InvalidRoutes("fallback cycle: " + String.join(" -> ", cycle));
            }
        }
    }

    private boolean isTracked(String routeId) {
        for (Applied a : applied.values()) {
            if (a.routeIds().contains(routeId)) {
                return true;
            }
        }
        return false;
    }

    private void graph(RouteDefinition d, String source, Map<String, String> modelOwner, Map<String, Set<String>> edges,
            Map<String, String> targetUser, Parsed p) throws InvalidRoutes {
        String from = modelName(d.getInput().getEndpointUri());
        if (from != null) {
            String other = modelOwner.putIfAbsent(from, source);
            if (other != null && !other.equals(source)) {
                throw new InvalidRoutes("model '" + from + "' in " + display(source) + " is already served by " + display(other));
            }
            if (other != null && p != null) {
                throw new InvalidRoutes("model '" + from + "' is served by two routes of " + display(source));
            }
        }
        List<String> targets = new ArrayList<>();
        targets(d.getOutputs(), targets);
        for (String t : targets) {
            if (from != null) {
                edges.computeIfAbsent(from, k -> new LinkedHashSet<>()).add(t);
            }
            if (targetUser != null) {
                targetUser.putIfAbsent(t, "route '" + d.getRouteId() + "' in " + display(source));
            }
        }
    }

    private static void targets(List<ProcessorDefinition<?>> outputs, List<String> into) {
        for (ProcessorDefinition<?> p : outputs) {
            String uri = p instanceof SendDefinition<?> s ? s.getEndpointUri() : p instanceof ToDynamicDefinition t ? t.getUri() : null;
            String name = modelName(uri);
            if (name != null && !name.contains("${")) {
                into.add(name);
            }
            targets(p.getOutputs(), into);
            if (p instanceof CircuitBreakerDefinition cb && cb.getOnFallback() != null) {
                targets(cb.getOnFallback().getOutputs(), into);
            }
        }
    }

    /** The line of the step whose endpoint could not be made, when the message names it. */
    private static int lineOfFailedEndpoint(List<ProcessorDefinition<?>> outputs, String reason) {
        int at = reason.indexOf("Failed to resolve endpoint: ");
        if (at < 0) {
            return -1;
        }
        String failed = reason.substring(at + "Failed to resolve endpoint: ".length());
        for (ProcessorDefinition<?> p : outputs) {
            if (p instanceof SendDefinition<?> send && send.getEndpointUri() != null) {
                try {
                    if (failed.startsWith(EndpointHelper.normalizeEndpointUri(send.getEndpointUri()))) {
                        return p.getLineNumber();
                    }
                } catch (Exception e) {
                    // not a URI we can compare
                }
            }
            int inner = lineOfFailedEndpoint(p.getOutputs(), reason);
            if (inner < 0 && p instanceof CircuitBreakerDefinition cb && cb.getOnFallback() != null) {
                inner = lineOfFailedEndpoint(cb.getOnFallback().getOutputs(), reason);
            }
            if (inner > 0) {
                return inner;
            }
        }
        return -1;
    }

    private static String modelName(String uri) {
        if (uri == null || !uri.startsWith("model:")) {
            return null;
        }
        String name = uri.substring("model:".length());
        if (name.startsWith("//")) {
            name = name.substring(2);
        }
        int q = name.indexOf('?');
        return q < 0 ? name : name.substring(0, q);
    }

    private static List<String> cycle(String m, Map<String, Set<String>> edges, Map<String, Integer> mark, List<String> path) {
        Integer state = mark.get(m);
        if (state != null && state == 2) {
            return null;
        }
        path.add(m);
        if (state != null && state == 1) {
            return new ArrayList<>(path.subList(path.indexOf(m), path.size()));
        }
        mark.put(m, 1);
        for (String next : edges.getOrDefault(m, Set.of())) {
            List<String> c = cycle(next, edges, mark, path);
            if (c != null) {
                return c;
            }
        }
        mark.put(m, 2);
        path.remove(path.size() - 1);
        return null;
    }

    /**
     * Starts the built routes and takes the old ones out: a model route's old version is retired (no new
     * requests) and removed once the requests inside it are done; any other old route is stopped first, since
     * its endpoint (direct:, an HTTP port) takes one consumer.
     */
    private void swap(Map<String, String> changes, List<Parsed> parsed, List<String> staged,
            List<RouteDefinition> removed) throws Exception {
        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        List<String> old = new ArrayList<>();
        for (String source : changes.keySet()) {
            Applied a = applied.get(source);
            if (a != null) {
                old.addAll(a.routeIds());
            }
        }
        List<String> oldModelRoutes = new ArrayList<>();
        for (String id : old) {
            Route r = context.getRoute(id);
            if (r != null && r.getConsumer() instanceof ModelConsumer) {
                oldModelRoutes.add(id);
            } else if (r != null) {
                RouteDefinition d = model.getRouteDefinition(id);
                removeRoute(model, id, TimeUnit.MILLISECONDS.convert(context.getShutdownStrategy().getTimeout(),
                        context.getShutdownStrategy().getTimeUnit()));
                if (d != null) {
                    removed.add(d); // put back if the new routes do not start
                }
            }
        }
        for (String id : staged) {
            context.getRouteController().startRoute(id);
        }
        for (String id : oldModelRoutes) {
            Route r = context.getRoute(id);
            ModelConsumer consumer = (ModelConsumer) r.getConsumer();
            consumer.retire();
            drainer.execute(() -> drainAndRemove(id, consumer));
        }
        for (String source : changes.keySet()) {
            applied.remove(source);
        }
        for (Parsed p : parsed) {
            List<String> ids = p.routes().stream().map(RouteDefinition::getRouteId).toList();
            // the signature the poll saw before reading the text: a save made since is seen as a change
            String signature = isFile(p.source()) ? polled.get(Path.of(p.source())) : null;
            applied.put(p.source(), new Applied(signature, p.hash(), ids));
        }
    }

    private void drainAndRemove(String id, ModelConsumer consumer) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(drainTimeoutMs);
        try {
            while (consumer.inside() > 0 && System.nanoTime() < deadline) {
                TimeUnit.MILLISECONDS.sleep(10);
            }
            if (consumer.inside() > 0) {
                LOG.warn("route {} still holds {} requests after {} ms; removing it", id, consumer.inside(), drainTimeoutMs);
            }
            synchronized (this) {
                removeRoute(context.getCamelContextExtension().getContextPlugin(Model.class), id, 1000);
            }
        } catch (Exception e) {
            LOG.warn("could not remove the old route {}: {}", id, e.getMessage());
        }
    }

    private void removeRoute(Model model, String id, long timeoutMs) throws Exception {
        if (context.getRoute(id) != null) {
            context.getRouteController().stopRoute(id, Math.max(1, TimeUnit.MILLISECONDS.toSeconds(timeoutMs)), TimeUnit.SECONDS);
        }
        RouteDefinition d = model.getRouteDefinition(id);
        if (d != null) {
            model.removeRouteDefinition(d);
        } else {
            context.removeRoute(id);
        }
    }

    // ------------------------------------------------------------------ status

    /** Counts and shows a change that was refused before it reached the routes (a bad dynamic config). */
    public synchronized void refused(String where, String reason) {
        failed.incrementAndGet();
        last = status("failed", where, reason);
    }

    /** The live configuration's version: a hash of every source's text, changing with each applied change. */
    public String version() {
        return snapshot.version();
    }

    /** For /health: sources, version, counts and the last result. Never waits for a change being applied. */
    public Map<String, Object> describe() {
        Snapshot now = snapshot;
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("watching", dir == null ? null : dir.toString());
        d.put("version", now.version());
        d.put("succeeded", succeeded.get());
        d.put("failed", failed.get());
        d.putAll(last);
        d.put("sources", now.sources());
        return d;
    }

    /** Called with the lock held, after every applied change. */
    private void snapshot() {
        StringBuilder all = new StringBuilder();
        List<String> sources = new ArrayList<>();
        applied.forEach((source, a) -> {
            all.append(display(source)).append('=').append(a.hash()).append('\n');
            sources.add(display(source));
        });
        snapshot = new Snapshot(hash(all.toString()).substring(0, 12), List.copyOf(sources));
    }

    public long succeeded() {
        return succeeded.get();
    }

    public long failed() {
        return failed.get();
    }

    private Map<String, Object> status(String result, String where, String error) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("last_result", result);
        s.put("last_at", Instant.now().toString());
        if (where != null) {
            s.put("last_change", where);
        }
        if (error != null) {
            s.put("last_error", where + ": " + error);
        }
        return s;
    }

    private String display(String source) {
        return isFile(source) ? dir.relativize(Path.of(source)).toString() : source;
    }

    private static String baseId(String id) {
        return id.replaceFirst("~[0-9]+$", "");
    }

    /** The message a user can act on, with the file and line when the parser knows them. */
    private static String reason(Throwable e) {
        StringBuilder s = new StringBuilder();
        Set<String> seenMessages = new LinkedHashSet<>();
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && !m.isBlank() && seenMessages.stream().noneMatch(x -> x.contains(m.strip()))) {
                seenMessages.add(m.strip());
            }
            if (t.getCause() == t) {
                break;
            }
        }
        for (String m : seenMessages) {
            if (!s.isEmpty()) {
                s.append(": ");
            }
            s.append(m.replaceAll("\\s+", " "));
        }
        return s.isEmpty() ? e.getClass().getSimpleName() : s.toString();
    }

    private static String hash(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        watcher.shutdownNow();
        drainer.shutdownNow();
    }
}
