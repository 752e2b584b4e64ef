package io.github.camelllmrouter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** --static-backend-health-checks: a backend that fails its probes leaves rotation and returns once it passes. */
class HealthCheckTest {

    static final ObjectMapper JSON = new ObjectMapper();
    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    String status(FakeOpenAiBackend b) throws Exception {
        for (JsonNode n : JSON.readTree(f.get("/health").body()).path("backends")) {
            if (n.path("url").asText().equals(b.url())) {
                return n.path("status").asText();
            }
        }
        return "unknown";
    }

    List<String> servedBy(int n) throws Exception {
        List<String> served = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            served.add(f.post("/v1/embeddings", "{\"model\":\"m-a\",\"input\":\"x\"}").headers().firstValue("x-served-by").orElseThrow());
        }
        return served;
    }

    /** The model requests (servedBy's) a backend received. */
    static long modelRequests(FakeOpenAiBackend b) {
        return b.received("/v1/embeddings").stream().filter(r -> r.body().contains("\"input\":\"x\"")).count();
    }

    void assertLeavesAndRejoins(String probe) throws Exception {
        assertLeavesAndRejoins(probe, "chat");
    }

    void assertLeavesAndRejoins(String probe, String type) throws Exception {
        FakeOpenAiBackend h1 = f.backend("h1", "m-a");
        FakeOpenAiBackend h2 = f.backend("h2", "m-a");
        f.start(Map.of("camel.component.llm.health-check-probe", probe, "camel.component.llm.health-check-api-key", "sk-probe"),
                "--static-backends", h1.url() + "," + h2.url(), "--static-models", "m-a,m-a",
                "--static-model-types", type + "," + type, "--static-backend-health-checks",
                "--static-backend-health-check-interval", "1", "--static-backend-health-check-timeout-seconds", "1");
        servedBy(2); // creates both backends' state
        h1.hang(); // probes time out, and model requests would hang too
        await().atMost(15, TimeUnit.SECONDS).until(() -> status(h1).equals("unhealthy"));
        // model requests only: with the request probe, the probes are /v1/embeddings requests too (input "ping")
        long callsWhileOut = modelRequests(h1);
        assertThat(servedBy(6)).containsOnly("h2");
        assertThat(modelRequests(h1)).isEqualTo(callsWhileOut);
        h1.healthy();
        await().atMost(15, TimeUnit.SECONDS).until(() -> status(h1).equals("healthy"));
        assertThat(servedBy(4)).contains("h1", "h2");
        assertThat(f.get("/metrics").body()).contains("llm_router_health_changes_total");
        // probes present the configured key, as the vLLM router presents VLLM_API_KEY
        assertThat(h1.received().stream().filter(r -> r.method().equals("GET")))
                .isNotEmpty().allMatch(r -> "Bearer sk-probe".equals(r.headers().get("Authorization")));
    }

    @Test
    void a_backend_failing_the_cheap_probe_leaves_rotation_and_returns_when_it_passes() throws Exception {
        assertLeavesAndRejoins("health");
    }

    @Test
    void the_real_request_probe_works_the_same_way_with_a_request_of_the_model_type() throws Exception {
        assertLeavesAndRejoins("request", "embeddings");
        assertThat(f.backends.get(0).received("/v1/embeddings")).anyMatch(r -> r.body().contains("\"input\":\"ping\""));
        assertThat(f.backends.get(0).count("/v1/chat/completions")).isZero();
    }

    @Test
    void the_request_probe_sends_the_smallest_real_request_of_each_vllm_model_type() throws Exception {
        FakeOpenAiBackend r = f.backend("r", "m-rerank");
        FakeOpenAiBackend s = f.backend("s", "m-score");
        FakeOpenAiBackend m = f.backend("m", "m-messages");
        f.start(Map.of("camel.component.llm.health-check-probe", "request"),
                "--static-backends", r.url() + "," + s.url() + "," + m.url(), "--static-models", "m-rerank,m-score,m-messages",
                "--static-model-types", "rerank,score,messages", "--static-backend-health-checks",
                "--static-backend-health-check-interval", "1");
        await().atMost(15, TimeUnit.SECONDS).until(() -> !r.received("/v1/rerank").isEmpty()
                && !s.received("/v1/score").isEmpty() && !m.received("/v1/messages").isEmpty());
        assertThat(r.received("/v1/rerank").get(0).body()).contains("\"documents\"");
        assertThat(s.received("/v1/score").get(0).body()).contains("\"text_1\"");
        assertThat(m.received("/v1/messages").get(0).body()).contains("\"max_tokens\":1");
        assertThat(r.count("/v1/chat/completions") + s.count("/v1/chat/completions") + m.count("/v1/chat/completions")).isZero();
    }
}
