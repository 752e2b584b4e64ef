package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The JSON endpoints the vLLM router proxies by {@code model}, besides chat, completions and embeddings: routed
 * through the same model routes (failover, breaker, fallback with {@code model} rewritten), streams of the
 * Responses and Messages APIs relayed event by event, errors on /v1/messages in the Anthropic shape.
 */
class VllmEndpointsTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> PATHS = List.of("/v1/responses", "/v1/messages", "/tokenize", "/detokenize", "/v1/rerank",
            "/rerank", "/v1/score", "/score", "/v1/images/generations");
    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend a1;
    FakeOpenAiBackend a2;
    FakeOpenAiBackend b1;

    @BeforeEach
    void start() throws Exception {
        FakeOpenAiBackend[] b = f.startWithFallback();
        a1 = b[0];
        a2 = b[1];
        b1 = b[2];
    }

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void every_json_endpoint_reaches_a_backend_of_its_model_on_the_same_path() throws Exception {
        for (String path : PATHS) {
            String body = "{\"model\":\"m-a\",\"input\":\"hello\",\"max_tokens\":8}";
            HttpResponse<String> r = f.post(path, body);
            assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by").orElseThrow()).isIn("a1", "a2");
            assertThat(r.headers().firstValue("x-llm-router-model")).contains("m-a");
            JsonNode answer = JSON.readTree(r.body());
            assertThat(answer.path("path").asText()).isEqualTo(path);
            FakeOpenAiBackend served = r.headers().firstValue("x-served-by").orElseThrow().equals("a1") ? a1 : a2;
            assertThat(served.last().path()).isEqualTo(path);
            assertThat(served.last().body()).isEqualTo(body);
        }
    }

    @Test
    void every_endpoint_falls_back_with_model_rewritten() throws Exception {
        a1.stop();
        a2.stop();
        for (String path : PATHS) {
            HttpResponse<String> r = f.post(path, "{\"model\":\"m-a\",\"query\":\"q\",\"documents\":[\"d\"]}");
            assertThat(r.statusCode()).as(path).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by")).contains("b1");
            assertThat(r.headers().firstValue("x-llm-router-fallback-from")).contains("m-a");
            assertThat(b1.last().path()).isEqualTo(path);
            assertThat(b1.last().model()).isEqualTo("m-b");
        }
    }

    static final List<String> FORMS = List.of("/v1/audio/transcriptions", "/v1/audio/translations", "/v1/images/edits");
    static final String BOUNDARY = "----router-test-7MA4YWxkTrZu0gW";

    /** A multipart form as the OpenAI SDKs send it: fields, then a file part holding every byte value. */
    static byte[] form(String model, byte[] file) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String head = "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n" + model + "\r\n"
                + "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n"
                + "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                + "Content-Type: audio/wav\r\n\r\n";
        out.writeBytes(head.getBytes(StandardCharsets.ISO_8859_1));
        out.writeBytes(file);
        out.writeBytes(("\r\n--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.ISO_8859_1));
        return out.toByteArray();
    }

    static byte[] everyByte() {
        byte[] b = new byte[2048];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    HttpResponse<String> postForm(String path, byte[] body) throws Exception {
        return f.http.send(HttpRequest.newBuilder(f.uri(path)).header("Content-Type", "multipart/form-data; boundary=" + BOUNDARY)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void multipart_endpoints_are_routed_by_their_model_field_and_the_file_reaches_the_backend_byte_for_byte() throws Exception {
        for (String path : FORMS) {
            byte[] body = form("m-a", everyByte());
            HttpResponse<String> r = postForm(path, body);
            assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
            FakeOpenAiBackend served = r.headers().firstValue("x-served-by").orElseThrow().equals("a1") ? a1 : a2;
            FakeOpenAiBackend.Received got = served.last();
            assertThat(got.path()).isEqualTo(path);
            assertThat(got.model()).isEqualTo("m-a");
            assertThat(got.headers().get("content-type")).isEqualTo("multipart/form-data; boundary=" + BOUNDARY);
            assertThat(got.body().getBytes(StandardCharsets.ISO_8859_1)).as(path + ": the client's bytes").isEqualTo(body);
        }
        // and on fallback, the model field is rewritten there, the rest unchanged
        a1.stop();
        a2.stop();
        for (String path : FORMS) {
            HttpResponse<String> r = postForm(path, form("m-a", everyByte()));
            assertThat(r.statusCode()).as(path).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by")).contains("b1");
            assertThat(b1.last().model()).isEqualTo("m-b");
            assertThat(b1.last().body().getBytes(StandardCharsets.ISO_8859_1)).isEqualTo(form("m-b", everyByte()));
        }
        HttpResponse<String> noModel = f.http.send(HttpRequest.newBuilder(f.uri("/v1/audio/transcriptions"))
                .header("Content-Type", "multipart/form-data; boundary=" + BOUNDARY)
                .POST(HttpRequest.BodyPublishers.ofString("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--"
                        + BOUNDARY + "--\r\n")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(noModel.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(noModel.body()).path("error").path("param").asText()).isEqualTo("model");
        // two model fields: backends differ on which they read, so the router reads neither
        String second = "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm-b\r\n";
        byte[] twice = form("m-a", everyByte());
        byte[] withSecond = new byte[second.length() + twice.length];
        System.arraycopy(second.getBytes(StandardCharsets.ISO_8859_1), 0, withSecond, 0, second.length());
        System.arraycopy(twice, 0, withSecond, second.length(), twice.length);
        HttpResponse<String> two = postForm("/v1/audio/transcriptions", withSecond);
        assertThat(two.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(two.body()).path("error").path("message").asText()).contains("more than one 'model'");
    }

    @Test
    void a_streamed_transcription_is_relayed_chunk_by_chunk() throws Exception {
        for (FakeOpenAiBackend b : List.of(a1, a2)) {
            b.chunks(6).chunkDelayMs(150);
        }
        String head = "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\ntrue\r\n";
        byte[] formBody = form("m-a", everyByte());
        byte[] body = new byte[head.length() + formBody.length];
        System.arraycopy(head.getBytes(StandardCharsets.ISO_8859_1), 0, body, 0, head.length());
        System.arraycopy(formBody, 0, body, head.length(), formBody.length);
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r = f.http.send(HttpRequest.newBuilder(f.uri("/v1/audio/transcriptions"))
                .header("Content-Type", "multipart/form-data; boundary=" + BOUNDARY)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        List<Long> at = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.startsWith("data: {")) {
                    at.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
                    text.append(JSON.readTree(line.substring(6)).path("choices").get(0).path("delta").path("content").asText());
                }
            }
        }
        assertThat(text.toString()).isEqualTo("w0 w1 w2 w3 w4 w5 ");
        assertThat(at.get(at.size() - 1) - at.get(0)).as("chunks as generated: %s", at).isGreaterThan(600);
    }

    @Test
    void speech_answers_are_relayed_as_the_backend_sent_them_and_voices_are_routed_by_model() throws Exception {
        HttpResponse<byte[]> speech = f.http.send(HttpRequest.newBuilder(f.uri("/v1/audio/speech"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m-a\",\"input\":\"Hello\",\"voice\":\"alloy\"}")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(speech.statusCode()).isEqualTo(200);
        assertThat(speech.headers().firstValue("content-type")).contains("audio/mpeg");
        assertThat(speech.body()).isEqualTo(FakeOpenAiBackend.SPEECH);

        HttpResponse<String> voices = f.http.send(HttpRequest.newBuilder(f.uri("/v1/audio/voices"))
                .header("Content-Type", "application/json")
                .method("GET", HttpRequest.BodyPublishers.ofString("{\"model\":\"m-b\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(voices.statusCode()).as(voices.body()).isEqualTo(200);
        assertThat(voices.headers().firstValue("x-served-by")).contains("b1");
        assertThat(b1.last().method()).isEqualTo("GET");
        assertThat(b1.last().path()).isEqualTo("/v1/audio/voices");
    }

    String engineOf(FakeOpenAiBackend b) throws Exception {
        for (JsonNode backend : JSON.readTree(f.get("/health").body()).path("backends")) {
            if (backend.path("url").asText().startsWith(b.url())) {
                return backend.path("engine_id").asText();
            }
        }
        throw new AssertionError("no engine for " + b.url());
    }

    HttpResponse<String> chatOn(String model, String engine) throws Exception {
        return f.post("/v1/chat/completions?id=" + engine, RouterFixture.chat(model));
    }

    @Test
    void engines_are_listed_put_to_sleep_woken_and_requests_pinned_to_one_as_the_vllm_router_does() throws Exception {
        String e1 = engineOf(a1);
        String e2 = engineOf(a2);
        String eb = engineOf(b1);
        JsonNode engines = JSON.readTree(f.get("/engines").body());
        assertThat(engines).hasSize(3);
        Map<String, String> models = new HashMap<>();
        engines.forEach(e -> models.put(e.path("engine_id").asText(), e.path("serving_models").toString()));
        assertThat(models).containsEntry(e1, "[\"m-a\"]").containsEntry(e2, "[\"m-a\"]").containsEntry(eb, "[\"m-b\"]");
        assertThat(engines.get(0).path("created").asLong()).isPositive();

        // ?id=: that engine only
        for (int i = 0; i < 5; i++) {
            assertThat(chatOn("m-a", e2).headers().firstValue("x-served-by")).contains("a2");
        }
        HttpResponse<String> wrongModel = chatOn("m-a", eb);
        assertThat(wrongModel.statusCode()).isEqualTo(404);
        assertThat(b1.count("/v1/chat/completions")).isZero();

        // sleep: forwarded with the other query parameters, and the engine leaves rotation
        HttpResponse<String> sleep = f.post("/sleep?id=" + e1 + "&level=1", "");
        assertThat(sleep.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(sleep.body()).path("status").asText()).isEqualTo("success");
        assertThat(a1.last().path()).isEqualTo("/sleep");
        assertThat(a1.last().query()).isEqualTo("level=1");
        assertThat(f.get("/is_sleeping?id=" + e1).body()).contains("\"is_sleeping\":true");
        int before = a1.count("/v1/chat/completions");
        for (int i = 0; i < 6; i++) {
            assertThat(f.servedBy("m-a")).isEqualTo("a2");
        }
        assertThat(a1.count("/v1/chat/completions")).isEqualTo(before);
        assertThat(chatOn("m-a", e1).statusCode()).as("a sleeping engine takes no pinned request").isEqualTo(404);
        assertThat(f.post("/wake_up?id=" + e1, "").statusCode()).isEqualTo(200);
        assertThat(f.get("/is_sleeping?id=" + e1).body()).contains("\"is_sleeping\":false");
        List<String> served = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            served.add(f.servedBy("m-a"));
        }
        assertThat(served).contains("a1", "a2");

        // a pinned request whose engine fails gets that failure: no failover, no fallback
        a2.failWithStatus(503);
        HttpResponse<String> failed = chatOn("m-a", e2);
        assertThat(failed.statusCode()).isEqualTo(503);
        assertThat(b1.count("/v1/chat/completions")).isZero();

        assertThat(f.post("/sleep", "").statusCode()).isEqualTo(400);
        assertThat(f.post("/sleep?id=no-such-engine", "").statusCode()).isEqualTo(400);
        assertThat(f.get("/sleep?id=" + e1).statusCode()).isEqualTo(405);
    }

    @Test
    void responses_and_messages_streams_are_relayed_event_by_event() throws Exception {
        for (FakeOpenAiBackend b : List.of(a1, a2)) {
            b.chunks(6).chunkDelayMs(150);
        }
        for (String path : List.of("/v1/responses", "/v1/messages")) {
            long t0 = System.nanoTime();
            HttpResponse<InputStream> r = f.http.send(HttpRequest.newBuilder(f.uri(path)).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json").header("x-request-id", "stream" + path.replace('/', '-'))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m-a\",\"stream\":true,\"input\":\"hi\"}")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
            List<String> events = new ArrayList<>();
            long firstAt = -1;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (line.startsWith("event: ")) {
                        if (firstAt < 0) {
                            firstAt = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                        }
                        events.add(line.substring(7));
                    }
                }
            }
            long total = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(total).as(path).isGreaterThan(800);
            assertThat(firstAt).as("%s: the first event came while the backend was still generating (%d ms of %d)", path, firstAt, total)
                    .isLessThan(total - 500);
            if (path.equals("/v1/responses")) {
                assertThat(events).startsWith("response.created").endsWith("response.completed").contains("response.output_text.delta");
            } else {
                assertThat(events).startsWith("message_start").endsWith("message_stop").contains("content_block_delta");
            }
        }
    }

    @Test
    void router_made_errors_on_messages_have_the_anthropic_shape() throws Exception {
        HttpResponse<String> unknown = f.post("/v1/messages", "{\"model\":\"no-such\",\"max_tokens\":8,\"messages\":[]}");
        assertThat(unknown.statusCode()).isEqualTo(404);
        JsonNode e = JSON.readTree(unknown.body());
        assertThat(e.path("type").asText()).isEqualTo("error");
        assertThat(e.path("error").path("type").asText()).isEqualTo("not_found_error");
        assertThat(e.path("error").path("message").asText()).contains("no-such");
        HttpResponse<String> bad = f.post("/v1/messages", "{\"max_tokens\":8}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).path("error").path("type").asText()).isEqualTo("invalid_request_error");
        // the other endpoints keep OpenAI's shape
        assertThat(JSON.readTree(f.post("/v1/responses", "{\"max_tokens\":8}").body()).path("error").path("param").asText())
                .isEqualTo("model");
    }

    @Test
    void token_usage_of_the_responses_api_is_read_from_its_own_fields() throws Exception {
        try (LogCapture access = LogCapture.of("io.github.camelllmrouter.access")) {
            f.post("/v1/responses", "{\"model\":\"m-a\",\"input\":\"hi\"}", "x-request-id", "usage-1");
            await().atMost(5, TimeUnit.SECONDS).until(() -> access.lines().stream().anyMatch(l -> l.contains("usage-1")));
            assertThat(access.lines().stream().filter(l -> l.contains("usage-1")).findFirst().orElseThrow())
                    .contains("prompt_tokens=5").contains("completion_tokens=3");
        }
        assertThat(f.get("/metrics").body()).containsPattern("vllm:input_tokens_total\\{model=\"m-a\",server=\"[^\"]+\"\\} 5.0");
    }

    @Test
    void the_model_list_has_the_backends_own_cards_and_the_routers_aliases() throws Exception {
        RouterFixture g = new RouterFixture();
        try {
            FakeOpenAiBackend x = g.backend("x1", "m-x");
            FakeOpenAiBackend dead = g.backend("y1", "m-y");
            dead.stop();
            g.start(Map.of(), "--static-backends", x.url() + "," + dead.url(), "--static-models", "m-x,m-y",
                    "--static-aliases", "alias-x:m-x");
            JsonNode list = JSON.readTree(g.get("/v1/models").body()).path("data");
            Map<String, JsonNode> byId = new HashMap<>();
            list.forEach(m -> byId.put(m.path("id").asText(), m));
            assertThat(byId).containsOnlyKeys("m-x", "m-y", "alias-x");
            // the backend's own card, as vLLM writes it
            assertThat(byId.get("m-x").path("root").asText()).isEqualTo("/models/m-x");
            assertThat(byId.get("m-x").path("max_model_len").asInt()).isEqualTo(8192);
            assertThat(byId.get("m-x").path("owned_by").asText()).isEqualTo("x1");
            // a backend that does not answer, and an alias: the router's own card
            assertThat(byId.get("m-y").path("object").asText()).isEqualTo("model");
            assertThat(byId.get("alias-x").path("owned_by").asText()).isEqualTo("camel-llm-router");
            JsonNode one = JSON.readTree(g.get("/v1/models/m-x").body());
            assertThat(one.path("root").asText()).isEqualTo("/models/m-x");
        } finally {
            g.close();
        }
    }

    @Test
    void one_model_and_the_version_are_answered_as_the_vllm_router_does() throws Exception {
        HttpResponse<String> one = f.get("/v1/models/m-a");
        assertThat(one.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(one.body()).path("id").asText()).isEqualTo("m-a");
        assertThat(JSON.readTree(one.body()).path("object").asText()).isEqualTo("model");
        HttpResponse<String> none = f.get("/v1/models/no/such-model");
        assertThat(none.statusCode()).isEqualTo(404);
        assertThat(JSON.readTree(none.body()).path("error").path("code").asText()).isEqualTo("model_not_found");
        HttpResponse<String> version = f.get("/version");
        assertThat(version.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(version.body()).path("version").asText()).isNotBlank();
    }
}
