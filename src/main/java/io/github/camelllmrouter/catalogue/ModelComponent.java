package io.github.camelllmrouter.catalogue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.camel.CamelContext;
import org.apache.camel.Endpoint;
import org.apache.camel.Route;
import org.apache.camel.support.DefaultComponent;

/**
 * {@code model:<name>}: the live model table. A route that consumes {@code model:gpt-4o} serves model gpt-4o (or
 * the alias gpt-4o); sending to {@code model:gpt-4o} (the API route, a fallback, an alias) reaches that route.
 *
 * <p>Unlike {@code direct:}, two routes may consume the same name for a while: the newest started one takes new
 * requests, and a reload retires the old one, which finishes what it holds before it is removed. So replacing a
 * model's route never leaves a moment in which the model has no route.
 */
public class ModelComponent extends DefaultComponent {

    /** Per name, the consumers in start order; the last one that is not retired serves. */
    private final Map<String, List<ModelConsumer>> consumers = new ConcurrentHashMap<>();

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        if (remaining == null || remaining.isBlank()) {
            throw new IllegalArgumentException("model: needs a model name, as in model:gpt-4o");
        }
        ModelEndpoint endpoint = new ModelEndpoint(uri, this, remaining);
        setProperties(endpoint, parameters);
        return endpoint;
    }

    void add(String name, ModelConsumer consumer) {
        consumers.compute(name, (n, list) -> {
            List<ModelConsumer> l = list != null ? list : new CopyOnWriteArrayList<>();
            l.add(consumer);
            return l;
        });
    }

    void remove(String name, ModelConsumer consumer) {
        consumers.computeIfPresent(name, (n, list) -> {
            list.remove(consumer);
            return list.isEmpty() ? null : list;
        });
    }

    /** The consumer that takes new requests for {@code name}, or null when no route serves it. */
    public ModelConsumer current(String name) {
        List<ModelConsumer> list = consumers.get(name);
        ModelConsumer newest = null;
        if (list != null) {
            for (ModelConsumer c : list) { // a snapshot: a route may start or stop meanwhile
                if (!c.isRetired()) {
                    newest = c;
                }
            }
        }
        return newest;
    }

    public boolean serves(String name) {
        return current(name) != null;
    }

    /** The names served now. */
    public List<String> names() {
        List<String> names = new ArrayList<>();
        consumers.forEach((name, list) -> {
            if (current(name) != null) {
                names.add(name);
            }
        });
        return names;
    }

    /**
     * Every served model and alias, for /v1/models and /health; a model found by service discovery only while
     * some backend serves it.
     */
    public List<String> models(CamelContext context) {
        DiscoveredBackends discovered = context.getRegistry().lookupByNameAndType(DiscoveredBackends.BEAN, DiscoveredBackends.class);
        Set<String> live = discovered == null ? Set.of() : discovered.models();
        List<String> names = new ArrayList<>();
        for (String name : names()) {
            ModelConsumer c = current(name);
            Route route = c == null ? null : context.getRoute(c.getRouteId());
            if (route == null || !"discovered".equals(route.getGroup()) || live.contains(name)) {
                names.add(name);
            }
        }
        return names;
    }

    public static ModelComponent of(CamelContext context) {
        return context.getComponent("model", ModelComponent.class);
    }
}
