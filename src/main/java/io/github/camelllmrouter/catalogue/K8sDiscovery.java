package io.github.camelllmrouter.catalogue;

import java.net.URI;

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

    public K8sDiscovery(KubernetesClient client, String namespace, String labelSelector, int port, long resyncMs,
                        BackendClient http, DiscoveredBackends backends) {
        var pods = client.pods().inNamespace(namespace);
        var selected = labelSelector == null || labelSelector.isBlank() ? pods : pods.withLabelSelector(labelSelector);
        this.informer = selected.inform(new ResourceEventHandler<>() {
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
                    backends.remove(url);
                }
            }

            private String url(Pod pod) {
                String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
                return ip == null || ip.isBlank() ? null : "http://" + ip + ":" + port;
            }

            private void update(Pod pod) {
                String url = url(pod);
                if (url == null) {
                    return;
                }
                if (!ready(pod)) {
                    LOG.info("pod {} not ready: backend {} out of rotation", pod.getMetadata().getName(), url);
                    backends.remove(url);
                    return;
                }
                String name = pod.getMetadata().getName();
                http.listModels(URI.create(url), 5000).thenAccept(models -> {
                    Pod now = informer == null ? null : informer.getIndexer().getByKey(pod.getMetadata().getNamespace() + "/" + name);
                    if (informer != null && (now == null || !ready(now) || !url.equals(url(now)))) {
                        return; // it left, or changed, while its models were read
                    }
                    if (models == null || models.isEmpty()) {
                        LOG.warn("pod {} is ready but {} lists no model; not routed", pod.getMetadata().getName(), url);
                        return;
                    }
                    LOG.info("pod {} ready: backend {} serves {}", pod.getMetadata().getName(), url, models);
                    backends.put(url, models);
                });
            }
        }, resyncMs);
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
        informer.close();
    }
}
