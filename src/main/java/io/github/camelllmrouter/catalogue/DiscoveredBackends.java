package io.github.camelllmrouter.catalogue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Backends found by service discovery, and the models each serves. A model route whose load balancer has a
 * {@code to: llm:discovered} step balances over this model's current members; a change takes effect at the
 * next request (a removed backend gets no new requests; those in flight finish).
 */
public final class DiscoveredBackends {

    public static final String BEAN = "discoveredBackends";

    private final Map<String, List<String>> modelsByBackend = new LinkedHashMap<>();
    private final AtomicLong version = new AtomicLong();
    private final Consumer<String> onNewModel;

    public DiscoveredBackends(Consumer<String> onNewModel) {
        this.onNewModel = onNewModel;
    }

    public long version() {
        return version.get();
    }

    public void put(String backendUrl, List<String> models) {
        List<String> fresh = new ArrayList<>();
        synchronized (this) {
            Set<String> known = models();
            modelsByBackend.put(backendUrl, List.copyOf(models));
            version.incrementAndGet();
            for (String m : models) {
                if (!known.contains(m)) {
                    fresh.add(m);
                }
            }
        }
        fresh.forEach(onNewModel);
    }

    public void remove(String backendUrl) {
        synchronized (this) {
            if (modelsByBackend.remove(backendUrl) == null) {
                return;
            }
            version.incrementAndGet();
        }
        removedListeners.forEach(l -> l.accept(backendUrl));
    }

    private final List<Consumer<String>> removedListeners = new CopyOnWriteArrayList<>();

    /** Told the URL of each backend that leaves (a load balancer then stops its producer). */
    public void onRemoved(Consumer<String> listener) {
        removedListeners.add(listener);
    }

    public void removeListener(Consumer<String> listener) {
        removedListeners.remove(listener);
    }

    /** Every backend currently found. */
    public synchronized Set<String> backends() {
        return new LinkedHashSet<>(modelsByBackend.keySet());
    }

    /** The backends currently serving a model. */
    public synchronized List<String> backendsOf(String model) {
        List<String> urls = new ArrayList<>();
        modelsByBackend.forEach((url, models) -> {
            if (models.contains(model)) {
                urls.add(url);
            }
        });
        return urls;
    }

    public synchronized Set<String> models() {
        Set<String> all = new LinkedHashSet<>();
        modelsByBackend.values().forEach(all::addAll);
        return all;
    }
}
