package io.github.camelllmrouter;

import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import static org.assertj.core.api.Assertions.assertThat;

/** Every bad request gets an OpenAI-shaped error, is never forwarded, and the router stays up. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {

    static final ObjectMapper JSON = new ObjectMapper();
    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend backend;

    @BeforeAll
    void start() throws Exception {
        backend = f.backend("b1", "m-a");
        f.start(Map.of(), "--static-backends", backend.url(), "--static-models", "m-a");
    }

    @AfterAll
    void stop() {
        f.close();
    }

    @BeforeEach
    void reset() {
        backend.reset();
    }

    private static JsonNode assertOpenAiError(HttpResponse<String> r, int status, String code) throws Exception {
        assertThat(r.statusCode()).isEqualTo(status);
        assertThat(r.headers().firstValue("content-type").orElseThrow()).startsWith("application/json");
        JsonNode error = JSON.readTree(r.body()).path("error");
        assertThat(error.isObject()).as(r.body()).isTrue();
        assertThat(error.has("message") && error.has("type") && error.has("param") && error.has("code")).as(r.body()).isTrue();
        assertThat(error.path("message").asText()).isNotBlank();
        assertThat(error.path("code").asText()).isEqualTo(code);
        return error;
    }

    @Test
    void malformed_json_is_400() throws Exception {
        assertOpenAiError(f.post("/v1/chat/completions", "{\"model\":\"m-a\","), 400, "invalid_json");
        assertOpenAiError(f.post("/v1/chat/completions", "{\"model\":\"m-a\"} trailing"), 400, "invalid_json");
        assertOpenAiError(f.post("/v1/chat/completions", ""), 400, "invalid_json");
        assertThat(backend.count()).isZero();
    }

    @Test
    void a_body_that_is_not_an_object_is_400() throws Exception {
        assertOpenAiError(f.post("/v1/chat/completions", "[{\"model\":\"m-a\"}]"), 400, "invalid_type");
        assertOpenAiError(f.post("/v1/chat/completions", "\"m-a\""), 400, "invalid_type");
        assertThat(backend.count()).isZero();
    }

    @Test
    void a_missing_or_non_string_model_is_400() throws Exception {
        JsonNode e = assertOpenAiError(f.post("/v1/chat/completions", "{\"messages\":[]}"), 400, "missing_required_parameter");
        assertThat(e.path("param").asText()).isEqualTo("model");
        assertOpenAiError(f.post("/v1/chat/completions", "{\"model\":42}"), 400, "invalid_type");
        assertOpenAiError(f.post("/v1/chat/completions", "{\"model\":null}"), 400, "invalid_type");
        assertOpenAiError(f.post("/v1/embeddings", "{\"model\":{\"name\":\"m-a\"}}"), 400, "invalid_type");
        assertThat(backend.count()).isZero();
    }

    @Test
    void an_unknown_model_is_404() throws Exception {
        JsonNode e = assertOpenAiError(f.post("/v1/chat/completions", RouterFixture.chat("nope")), 404, "model_not_found");
        assertThat(e.path("param").asText()).isEqualTo("model");
        assertThat(e.path("message").asText()).contains("nope");
        assertThat(backend.count()).isZero();
    }

    @Test
    void a_wrong_method_is_405_and_an_unknown_path_404() throws Exception {
        assertOpenAiError(f.get("/v1/chat/completions"), 405, "method_not_allowed");
        assertOpenAiError(f.post("/v1/models", "{}"), 405, "method_not_allowed");
        assertOpenAiError(f.get("/v2/whatever"), 404, "not_found");
        assertThat(backend.count()).isZero();
    }

    @Test
    void a_malformed_path_escape_is_404_not_a_hang() throws Exception {
        // a raw socket: Java's HTTP clients refuse to send such a path
        try (Socket s = new Socket("127.0.0.1", f.port)) {
            s.setSoTimeout(10000);
            s.getOutputStream().write("GET /v1/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes());
            String answer = new String(s.getInputStream().readAllBytes());
            assertThat(answer).startsWith("HTTP/1.1 404").contains("\"code\":\"not_found\"");
        }
    }

    @Test
    void unknown_model_names_never_become_metric_labels() throws Exception {
        f.post("/v1/chat/completions", RouterFixture.chat("random-name-4711"));
        assertThat(f.get("/metrics").body()).doesNotContain("random-name-4711");
    }

    @Test
    void a_body_over_the_limit_is_413() throws Exception {
        String big = "{\"model\":\"m-a\",\"prompt\":\"" + "x".repeat(8 * 1024 * 1024 + 10) + "\"}";
        assertOpenAiError(f.post("/v1/completions", big), 413, "request_too_large");
        assertThat(backend.count()).isZero();
        // and the router still answers
        assertThat(f.post("/v1/chat/completions", RouterFixture.chat("m-a")).statusCode()).isEqualTo(200);
    }

    @Test
    void after_a_burst_of_1000_bad_requests_a_good_one_is_served() throws Exception {
        String[] bad = {"{", "[]", "{\"model\":1}", "{\"messages\":[]}", RouterFixture.chat("unknown")};
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            HttpRequest req = HttpRequest.newBuilder(f.uri("/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(bad[i % bad.length])).build();
            all.add(f.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> r : all) {
            assertThat(r.get().statusCode()).isIn(400, 404);
        }
        assertThat(backend.count()).isZero();
        HttpResponse<String> good = f.post("/v1/chat/completions", RouterFixture.chat("m-a"));
        assertThat(good.statusCode()).isEqualTo(200);
        assertThat(backend.count()).isEqualTo(1);
    }
}
