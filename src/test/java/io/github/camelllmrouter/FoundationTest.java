package io.github.camelllmrouter;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import static org.assertj.core.api.Assertions.assertThat;

/** Routing by model, round robin, aliases, the list/health/metrics endpoints and a faithful relay. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FoundationTest {

    static final ObjectMapper JSON = new ObjectMapper();
    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend a1;
    FakeOpenAiBackend a2;
    FakeOpenAiBackend b1;

    @BeforeAll
    void start() throws Exception {
        a1 = f.backend("a1", "m-a");
        a2 = f.backend("a2", "m-a");
        b1 = f.backend("b1", "m-b");
        f.start(Map.of(), "--service-discovery", "static",
                "--static-backends", a1.url() + "," + a2.url() + "," + b1.url(),
                "--static-models", "m-a,m-a,m-b",
                "--static-aliases", "alias-x:m-a",
                "--static-model-types", "chat,chat,chat",
                "--routing-logic", "roundrobin", "--root-path", "/llm");
    }

    @Test
    void the_api_is_also_served_under_the_root_path() throws Exception {
        HttpResponse<String> r = f.post("/llm/v1/chat/completions", RouterFixture.chat("m-b"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(b1.last().path()).isEqualTo("/v1/chat/completions");
        assertThat(f.get("/llm/v1/models").body()).contains("\"m-a\"");
    }

    @AfterAll
    void stop() {
        f.close();
    }

    @BeforeEach
    void reset() {
        f.backends.forEach(FakeOpenAiBackend::reset);
    }

    @Test
    void routes_each_model_to_its_own_backends() throws Exception {
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m-b"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("b1");
        assertThat(JSON.readTree(r.body()).path("choices").get(0).path("message").path("content").asText())
                .isEqualTo("Hello from b1");
        assertThat(b1.count()).isEqualTo(1);
        assertThat(a1.count() + a2.count()).isZero();
        assertThat(b1.last().path()).isEqualTo("/v1/chat/completions");
    }

    @Test
    void round_robin_alternates_between_the_backends_of_a_model() throws Exception {
        List<String> servedBy = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m-a"));
            assertThat(r.statusCode()).isEqualTo(200);
            servedBy.add(r.headers().firstValue("x-served-by").orElseThrow());
        }
        assertThat(servedBy).containsExactly("a1", "a2", "a1", "a2", "a1", "a2");
        assertThat(a1.count()).isEqualTo(3);
        assertThat(a2.count()).isEqualTo(3);
    }

    @Test
    void completions_and_embeddings_go_to_the_same_path_on_the_backend() throws Exception {
        HttpResponse<String> c = f.post("/v1/completions", "{\"model\":\"m-b\",\"prompt\":\"hi\"}");
        assertThat(c.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(c.body()).path("object").asText()).isEqualTo("text_completion");
        assertThat(b1.last().path()).isEqualTo("/v1/completions");
        HttpResponse<String> e = f.post("/v1/embeddings", "{\"model\":\"m-b\",\"input\":\"hi\"}");
        assertThat(e.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(e.body()).path("data").get(0).path("embedding").isArray()).isTrue();
        assertThat(b1.last().path()).isEqualTo("/v1/embeddings");
    }

    @Test
    void an_alias_is_served_by_its_model_and_the_backend_sees_the_real_name() throws Exception {
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("alias-x"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by").orElseThrow()).isIn("a1", "a2");
        FakeOpenAiBackend served = a1.count() == 1 ? a1 : a2;
        assertThat(served.last().model()).isEqualTo("m-a");
        assertThat(r.headers().firstValue("x-llm-router-model")).contains("m-a");
    }

    @Test
    void the_body_reaches_the_backend_byte_for_byte_with_only_the_model_rewritten() throws Exception {
        String body = "{ \"top_k\": 7, \"model\" : \"alias-x\",\n \"guided_json\": {\"type\":\"object\"},"
                      + " \"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}], \"temperature\": 0.50 }";
        HttpResponse<String> r = f.post("/v1/chat/completions", body);
        assertThat(r.statusCode()).isEqualTo(200);
        FakeOpenAiBackend served = a1.count() == 1 ? a1 : a2;
        assertThat(served.last().body()).isEqualTo(body.replace("\"alias-x\"", "\"m-a\""));

        String direct = "{\"model\":\"m-b\",\"top_k\":7,\"extra\":[1,2,{\"x\":null}]}";
        f.post("/v1/chat/completions", direct);
        assertThat(b1.last().body()).isEqualTo(direct);
    }

    @Test
    void models_lists_every_model_and_alias_once() throws Exception {
        HttpResponse<String> r = f.get("/v1/models");
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode list = JSON.readTree(r.body());
        assertThat(list.path("object").asText()).isEqualTo("list");
        List<String> ids = new ArrayList<>();
        list.path("data").forEach(m -> {
            ids.add(m.path("id").asText());
            assertThat(m.path("object").asText()).isEqualTo("model");
        });
        assertThat(ids).containsExactlyInAnyOrder("m-a", "m-b", "alias-x");
    }

    @Test
    void health_describes_status_and_backends() throws Exception {
        f.post("/v1/chat/completions", RouterFixture.chat("m-b"));
        HttpResponse<String> r = f.get("/health");
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode h = JSON.readTree(r.body());
        assertThat(h.path("status").asText()).isEqualTo("healthy");
        List<String> urls = new ArrayList<>();
        h.path("backends").forEach(b -> urls.add(b.path("url").asText()));
        assertThat(urls).contains(b1.url());
    }

    @Test
    void metrics_are_prometheus_text() throws Exception {
        f.post("/v1/chat/completions", RouterFixture.chat("m-b"));
        HttpResponse<String> r = f.get("/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElseThrow()).startsWith("text/plain");
        assertThat(r.body()).contains("# TYPE").contains("routeId=\"inference\"");
    }

    @Test
    void authorization_is_forwarded_and_hop_by_hop_headers_are_not() throws Exception {
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m-b"),
                "Authorization", "Bearer sk-test", "X-Custom", "kept", "Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive", "TE", "trailers");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(b1.last().headers().get("Authorization")).isEqualTo("Bearer sk-test");
        assertThat(b1.last().headers().get("X-Custom")).isEqualTo("kept");
        assertThat(b1.last().headers().get("Keep-Alive")).isNull();
        assertThat(b1.last().headers().get("Proxy-Connection")).isNull();
        assertThat(b1.last().headers().get("TE")).isNull();
        // the backend's own end-to-end header reaches the client
        assertThat(r.headers().firstValue("x-served-by")).contains("b1");
        assertThat(r.headers().firstValue("content-type").orElseThrow()).startsWith("application/json");
    }

    @Test
    void a_request_id_is_kept_or_made_returned_and_forwarded_and_the_overhead_reported() throws Exception {
        HttpResponse<String> given = f.post("/v1/chat/completions", RouterFixture.chat("m-b"), "x-request-id", "req-42");
        assertThat(given.headers().firstValue("x-request-id")).contains("req-42");
        assertThat(b1.last().headers().get("x-request-id")).isEqualTo("req-42");
        HttpResponse<String> made = f.post("/v1/chat/completions", RouterFixture.chat("m-b"));
        String id = made.headers().firstValue("x-request-id").orElseThrow();
        assertThat(id).isNotBlank().isNotEqualTo("req-42");
        assertThat(b1.last().headers().get("x-request-id")).isEqualTo(id);
        double overheadMs = Double.parseDouble(made.headers().firstValue("x-llm-router-overhead-ms").orElseThrow());
        assertThat(overheadMs).isGreaterThanOrEqualTo(0).isLessThan(1000);
        assertThat(f.get("/metrics").body()).contains("llm_router_overhead_seconds_bucket{model=\"m-b\"");
    }

    @Test
    void a_backend_4xx_goes_back_to_the_client_as_sent() throws Exception {
        String error = "{\"error\":{\"message\":\"context too long\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":400}}";
        b1.failWithStatus(400, error, Map.of());
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m-b"));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).isEqualTo(error);
        assertThat(b1.count()).isEqualTo(1);
    }
}
