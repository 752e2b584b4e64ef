package io.github.camelllmrouter;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * --service-discovery k8s against the fabric8 mock API server: pods appear, turn unready and are deleted while
 * requests flow. Each "pod" is a fake backend on its own loopback address, all on the same port, as pods are.
 */
@EnableKubernetesMockClient(crud = true)
class K8sDiscoveryTest {

    static KubernetesClient client;
    static KubernetesMockServer server;
    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    static Pod pod(String name, String ip, boolean ready, String app) {
        return new PodBuilder().withNewMetadata().withName(name).withNamespace("llm").addToLabels("app", app).endMetadata()
                .withNewStatus().withPodIP(ip).addNewCondition().withType("Ready").withStatus(ready ? "True" : "False").endCondition()
                .endStatus().build();
    }

    /** A fake backend serving m-k as a pod would: on its own loopback address, on the pods' port. */
    FakeOpenAiBackend podBackend(String name, String ip, int port) {
        FakeOpenAiBackend b = new FakeOpenAiBackend(f.vertx, name, "m-k");
        b.start(ip, port);
        f.backends.add(b);
        return b;
    }

    /** The sources of the live routes, as /health shows them. */
    String sources() throws Exception {
        return new ObjectMapper().readTree(f.get("/health").body()).path("routes").path("sources").toString();
    }

    String servedBy(String model) throws Exception {
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat(model));
        return r.statusCode() == 200 ? r.headers().firstValue("x-served-by").orElseThrow() : "status " + r.statusCode();
    }

    @Test
    void ready_pods_become_backends_and_leave_rotation_when_unready_or_deleted() throws Exception {
        int port = RouterFixture.freePort();
        FakeOpenAiBackend k1 = podBackend("k1", "127.0.0.2", port);
        FakeOpenAiBackend k2 = podBackend("k2", "127.0.0.3", port);
        // the mock API server has a self-signed certificate
        f.start(Map.of("router.k8s-api-url", client.getConfiguration().getMasterUrl(), "router.k8s-trust-certs", "true"),
                "--service-discovery", "k8s", "--k8s-namespace", "llm", "--k8s-label-selector", "app=vllm",
                "--k8s-port", Integer.toString(port));
        assertThat(servedBy("m-k")).isEqualTo("status 404");

        client.pods().inNamespace("llm").resource(pod("vllm-1", "127.0.0.2", true, "vllm")).create();
        client.pods().inNamespace("llm").resource(pod("other", "127.0.0.4", true, "not-vllm")).create();
        await().atMost(10, TimeUnit.SECONDS).until(() -> servedBy("m-k").equals("k1"));
        assertThat(f.get("/v1/models").body()).contains("\"m-k\"");

        // requests keep flowing while pods come and go; none may fail
        AtomicBoolean done = new AtomicBoolean();
        List<String> failures = new CopyOnWriteArrayList<>();
        Set<String> seen = ConcurrentHashMap.newKeySet();
        Thread load = new Thread(() -> {
            while (!done.get()) {
                try {
                    String s = servedBy("m-k");
                    if (s.startsWith("status")) {
                        failures.add(s);
                    } else {
                        seen.add(s);
                    }
                } catch (Exception e) {
                    failures.add(e.toString());
                }
            }
        });
        load.start();

        client.pods().inNamespace("llm").resource(pod("vllm-2", "127.0.0.3", true, "vllm")).create();
        await().atMost(10, TimeUnit.SECONDS).until(() -> seen.contains("k2"));

        client.pods().inNamespace("llm").resource(pod("vllm-1", "127.0.0.2", false, "vllm")).update();
        await().atMost(10, TimeUnit.SECONDS).until(() -> {
            List<String> last = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                last.add(servedBy("m-k"));
            }
            return new HashSet<>(last).equals(Set.of("k2"));
        });
        int k1Calls = k1.count("/v1/chat/completions");

        client.pods().inNamespace("llm").resource(pod("vllm-1", "127.0.0.2", true, "vllm")).update();
        client.pods().inNamespace("llm").withName("vllm-2").delete();
        await().atMost(10, TimeUnit.SECONDS).until(() -> k1.count("/v1/chat/completions") > k1Calls + 3);
        int k2Calls = k2.count("/v1/chat/completions");
        for (int i = 0; i < 6; i++) {
            assertThat(servedBy("m-k")).isEqualTo("k1");
        }
        assertThat(k2.count("/v1/chat/completions")).isEqualTo(k2Calls);
        done.set(true);
        load.join();
        assertThat(failures).isEmpty();
        assertThat(k1.received().stream().map(FakeOpenAiBackend.Received::path)).contains("/v1/models");
        // the deleted pod leaves /health and /metrics (pods come and go with new IPs: nothing may pile up)
        await().atMost(10, TimeUnit.SECONDS).until(() -> !f.get("/health").body().contains("127.0.0.3"));
        // (a request that had just finished there may write its meters after: they go a second later)
        await().atMost(5, TimeUnit.SECONDS).until(() -> !f.get("/metrics").body().contains("127.0.0.3"));
        assertThat(f.get("/metrics").body()).contains("127.0.0.2");
    }

    @Test
    void the_dynamic_config_turns_discovery_on_points_it_elsewhere_and_turns_it_off_live(@TempDir Path dir) throws Exception {
        int port = RouterFixture.freePort();
        podBackend("blue", "127.0.0.4", port).modelsDelayMs(800); // a window in which the pod is being read
        podBackend("green", "127.0.0.5", port);
        FakeOpenAiBackend fixed = f.backend("fixed", "m-s", "m-k");
        client.pods().inNamespace("llm").resource(pod("blue-1", "127.0.0.4", true, "blue")).create();
        client.pods().inNamespace("llm").resource(pod("green-1", "127.0.0.5", true, "green")).create();
        Path config = dir.resolve("router.json");
        String staticConfig = "{\"service_discovery\": \"static\", \"static_backends\": \"%s,%s\", \"static_models\": \"m-s,m-k\"}"
                .formatted(fixed.url(), fixed.url());
        String k8sConfig = "{\"service_discovery\": \"k8s\", \"k8s_namespace\": \"llm\", \"k8s_label_selector\": \"app=%s\", "
                + "\"k8s_port\": " + port + "}";
        Files.writeString(config, staticConfig);
        f.start(Map.of("router.k8s-api-url", client.getConfiguration().getMasterUrl(), "router.k8s-trust-certs", "true"),
                "--dynamic-config-json", config.toString());
        assertThat(servedBy("m-s")).isEqualTo("fixed");
        assertThat(servedBy("m-k")).isEqualTo("fixed");

        // on: the static routes serve until the pods have been read, then m-k moves to its pod in one swap (no
        // request fails meanwhile) and m-s, which no pod serves, is gone
        Files.writeString(config, k8sConfig.formatted("blue"));
        List<String> seen = new CopyOnWriteArrayList<>();
        await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(5)).until(() -> {
            String s = servedBy("m-k");
            seen.add(s);
            assertThat(s).isIn("fixed", "blue");
            return s.equals("blue");
        });
        assertThat(seen).as("the static route served while the pod was read").contains("fixed");
        assertThat(servedBy("m-s")).isEqualTo("status 404");
        assertThat(f.get("/health").body()).contains("\"service_discovery\":\"k8s\"");
        assertThat(sources()).contains("discovered-m-k.camel.yaml");

        // pointed elsewhere: the first pod serves until the other label's pod has been read, then it is forgotten;
        // no request fails meanwhile
        Files.writeString(config, k8sConfig.formatted("green"));
        await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(5)).until(() -> {
            assertThat(servedBy("m-k")).isIn("blue", "green");
            return !f.get("/health").body().contains("127.0.0.4");
        });
        for (int i = 0; i < 4; i++) {
            assertThat(servedBy("m-k")).isEqualTo("green");
        }

        // off: the static catalogue again, which serves m-k too: in the same swap its route replaces the discovered one
        Files.writeString(config, staticConfig);
        await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(5)).until(() -> {
            String s = servedBy("m-k");
            assertThat(s).isIn("fixed", "green");
            return s.equals("fixed");
        });
        assertThat(servedBy("m-s")).isEqualTo("fixed");
        await().atMost(10, TimeUnit.SECONDS).until(() -> !f.get("/health").body().contains("127.0.0.5"));
        assertThat(sources()).doesNotContain("discovered-m-k.camel.yaml");
    }
}
