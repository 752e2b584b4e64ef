package io.github.camelllmrouter.catalogue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.support.EventNotifierSupport;

/**
 * The live model table is the set of routes named {@code model-<model name>}: a model (or alias) is served
 * exactly while such a route exists, whether it came from the command line, a file in routes/, or a reload.
 * A reload replaces a route by removing and re-adding it; for {@code replaceGraceMs} after a removal the model
 * still resolves to its endpoint, whose direct: producer then waits for the new route instead of answering 404.
 */
public class ModelRoutes extends EventNotifierSupport {

    public static final String PREFIX = "model-";

    private final Map<String, Removed> removed = new ConcurrentHashMap<>();
    private long replaceGraceMs = 1500;

    private record Removed(String endpoint, long atNanos) {
    }

    public ModelRoutes() {
        setIgnoreExchangeEvents(true);
        setIgnoreCamelContextEvents(true);
        setIgnoreServiceEvents(true);
        setIgnoreStepEvents(true);
    }

    public void setReplaceGraceMs(long replaceGraceMs) {
        this.replaceGraceMs = replaceGraceMs;
    }

    @Override
    public boolean isEnabled(CamelEvent event) {
        return event instanceof CamelEvent.RouteRemovedEvent;
    }

    @Override
    public void notify(CamelEvent event) {
        Route route = ((CamelEvent.RouteRemovedEvent) event).getRoute();
        if (route.getRouteId().startsWith(PREFIX)) {
            removed.put(route.getRouteId().substring(PREFIX.length()),
                    new Removed(route.getEndpoint().getEndpointUri(), System.nanoTime()));
        }
    }

    /** The endpoint the content-based router sends {@code model} to, or null when no route serves it. */
    public String endpointFor(CamelContext context, String model) {
        Route route = context.getRoute(PREFIX + model);
        if (route != null) {
            return route.getEndpoint().getEndpointUri();
        }
        Removed r = removed.get(model);
        if (r != null && System.nanoTime() - r.atNanos() < TimeUnit.MILLISECONDS.toNanos(replaceGraceMs)) {
            return r.endpoint(); // being replaced by a reload
        }
        return null;
    }

    /** The table for a context: its ModelRoutes bean, or one without the reload grace. */
    public static ModelRoutes of(CamelContext context) {
        ModelRoutes bean = context.getRegistry().findSingleByType(ModelRoutes.class);
        return bean != null ? bean : new ModelRoutes();
    }

    /** Every served model and alias, in route order; a discovered model only while some backend serves it. */
    public static List<String> models(CamelContext context) {
        DiscoveredBackends discovered = context.getRegistry().lookupByNameAndType(DiscoveredBackends.BEAN, DiscoveredBackends.class);
        java.util.Set<String> live = discovered == null ? java.util.Set.of() : discovered.models();
        List<String> names = new ArrayList<>();
        for (Route r : context.getRoutes()) {
            if (r.getRouteId().startsWith(PREFIX)) {
                String name = r.getRouteId().substring(PREFIX.length());
                if (!"discovered".equals(r.getGroup()) || live.contains(name)) {
                    names.add(name);
                }
            }
        }
        return names;
    }
}
