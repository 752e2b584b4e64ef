package io.github.camelllmrouter.catalogue;

import java.net.URI;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.github.camelllmrouter.backend.BackendClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * --service-discovery k8s: watches the pods of a namespace that match a label selector. A pod that is Ready and
 * has an IP becomes the backend {@code http://<pod IP>:<k8s-port>}, serving the models its /v1/models lists;
 * a pod that turns unready or goes away leaves rotation as soon as the API server says so.
 */
public final class K8sDiscovery implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(K8sDiscovery.class);

    private final SharedIndexInformer<Pod> informer;
    private final int port;
    private volatile boolean closed;
    private volatile boolean initialDone;
    // the backends this watch put in the registry, and which pods it has read (for initial())
    private final Set<String> found = ConcurrentHashMap.newKeySet();
    private final Map<String, CompletableFuture<Void>> read = new ConcurrentHashMap<>();
    private final CompletableFuture<Void> initial;

    public K8sDiscovery(KubernetesClient client, String namespace, String labelSelector, int port, long resyncMs,
                        BackendClient http, DiscoveredBackends backends) {
        this.port = port;
        var pods = client.pods().inNamespace(namespace);
        var selected = labelSelector == null || labelSelector.isBlank() ? pods : pods.withLabelSelector(labelSelector);
        this.informer = selected.runnableInformer(resyncMs);
        informer.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Pod pod) {
                update(pod);
            }

            @Override
            public void onUpdate(Pod old, Pod pod) {
                update(pod);
            }

            @Override
            public void onDelete(Pod pod, boolean finalStateUnknown) {
                String url = url(pod);
                if (url != null) {
                    LOG.info("pod {} deleted: backend {} out of rotation", pod.getMetadata().getName(), url);
                    found.remove(url);
                    backends.remove(url);
                }
            }

            private void update(Pod pod) {
                String url = url(pod);
                if (url == null) {
                    return;
                }
                if (!ready(pod)) {
                    LOG.info("pod {} not ready: backend {} out of rotation", pod.getMetadata().getName(), url);
                    found.remove(url);
                    backends.remove(url);
                    wasRead(url);
                    return;
                }
                String name = pod.getMetadata().getName();
                // read only once the backend is in the registry (or known not to be): initial() waits for that
                http.listModels(URI.create(url), 5000).thenAccept(models -> {
                    Pod now = informer == null ? null : informer.getIndexer().getByKey(pod.getMetadata().getNamespace() + "/" + name);
                    if (informer != null && (now == null || !ready(now) || !url.equals(url(now)))) {
                        return; // it left, or changed, while its models were read
                    }
                    if (models == null || models.isEmpty()) {
                        LOG.warn("pod {} is ready but {} lists no model; not routed", pod.getMetadata().getName(), url);
                        return;
                    }
                    synchronized (K8sDiscovery.this) { // not after close(): what a closed watch found is cleared
                        if (closed) {
                            return;
                        }
                        LOG.info("pod {} ready: backend {} serves {}", pod.getMetadata().getName(), url, models);
                        found.add(url);
                        backends.put(url, models);
                    }
                }).whenComplete((v, e) -> wasRead(url));
            }
        });
        try {
            // the first list of pods, with a time limit (an unreachable API server must not hang the caller)
            informer.start().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            informer.close();
            throw new IllegalStateException("interrupted while listing the pods");
        } catch (ExecutionException | TimeoutException e) {
            informer.close();
            throw new IllegalStateException("the Kubernetes API did not list the pods of namespace " + namespace
                    + (e instanceof TimeoutException ? " within 30 s" : ": " + e.getCause().getMessage()));
        }
        // the first list is in the cache; its pods' events may still be on their way
        this.initial = CompletableFuture.allOf(informer.getStore().list().stream()
                        .map(this::url).filter(Objects::nonNull).map(this::read)
                        .toArray(CompletableFuture[]::new))
                .completeOnTimeout(null, 15, TimeUnit.SECONDS)
                .whenComplete((v, e) -> {
                    initialDone = true; // later pods need no tracking
                    read.clear();
                });
    }

    private String url(Pod pod) {
        String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
        return ip == null || ip.isBlank() ? null : "http://" + ip + ":" + port;
    }

    private CompletableFuture<Void> read(String url) {
        return read.computeIfAbsent(url, u -> new CompletableFuture<>());
    }

    private void wasRead(String url) {
        if (!initialDone) {
            read(url).complete(null);
        }
    }

    /**
     * Completes once every pod of the first list has been read (its models asked for), or after 15 s: from then
     * on, {@link #found()} is what this selection has.
     */
    public CompletableFuture<Void> initial() {
        return initial;
    }

    /** The backends this watch has found and that are still there. */
    public Set<String> found() {
        return Set.copyOf(found);
    }

    static boolean ready(Pod pod) {
        if (pod.getMetadata().getDeletionTimestamp() != null || pod.getStatus() == null || pod.getStatus().getConditions() == null) {
            return false;
        }
        return pod.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equalsIgnoreCase(c.getStatus()));
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        informer.close();
    }
}
