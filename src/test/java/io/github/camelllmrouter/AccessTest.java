package io.github.camelllmrouter;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.access.KeysFile;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import io.github.camelllmrouter.http.RouterTracing;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Inbound API keys, their models and limits, backends' own credentials and the router's admin surface, through
 * the HTTP API against fake backends that record what they received.
 */
class AccessTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY_A = "sk-team-a-0123456789";
    static final String KEY_B = "sk-team-b-9876543210";
    static final String KEY_C = "sk-team-c-5555555555";

    final RouterFixture f = new RouterFixture();
    @TempDir
    Path dir;

    @AfterEach
    void stop() {
        f.close();
    }

    static String key(String name, String key, String extra) {
        return "  - name: " + name + "\n    sha256: " + KeysFile.sha256(key) + "\n" + extra;
    }

    Path keysFile(String yaml) throws Exception {
        Path file = dir.resolve("keys.yaml");
        Files.writeString(file, yaml);
        return file;
    }

    FakeOpenAiBackend[] start(String keysYaml, String... more) throws Exception {
        FakeOpenAiBackend a1 = f.backend("a1", "m-a");
        FakeOpenAiBackend b1 = f.backend("b1", "m-b");
        List<String> flags = new ArrayList<>(List.of("--static-backends", a1.url() + "," + b1.url(),
                "--static-models", "m-a,m-b", "--static-aliases", "alias-a:m-a",
                "--api-keys-file", keysFile(keysYaml).toString()));
        flags.addAll(List.of(more));
        f.start(Map.of(), flags.toArray(new String[0]));
        return new FakeOpenAiBackend[] {a1, b1};
    }

    HttpResponse<String> chat(String model, String... headers) throws Exception {
        return f.post("/v1/chat/completions", RouterFixture.chat(model), headers);
    }

    static String bearer(String key) {
        return "Bearer " + key;
    }

    static JsonNode error(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body()).path("error");
    }

    @Test
    void a_request_needs_a_known_key_and_a_key_reaches_only_its_models() throws Exception {
        FakeOpenAiBackend[] b = start("keys:\n" + key("team-a", KEY_A, "    models: [\"m-a\", \"alias-*\"]\n")
                + key("team-b", KEY_B, "") + key("old", KEY_C, "    expires: 2020-01-01\n"));

        HttpResponse<String> none = chat("m-a");
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(error(none).path("code").asText()).isEqualTo("invalid_api_key");
        HttpResponse<String> wrong = chat("m-a", "Authorization", bearer("sk-not-a-key"));
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.body()).doesNotContain("sk-not-a-key");
        HttpResponse<String> expired = chat("m-a", "Authorization", bearer(KEY_C));
        assertThat(expired.statusCode()).isEqualTo(401);
        assertThat(error(expired).path("message").asText()).contains("expired");
        assertThat(b[0].count() + b[1].count()).as("no refused request reached a backend").isZero();

        HttpResponse<String> ok = chat("m-a", "Authorization", bearer(KEY_A));
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.headers().firstValue("x-served-by")).contains("a1");
        assertThat(b[0].last().headers().get("authorization")).as("the client's key is the router's").isNull();
        assertThat(chat("alias-a", "x-api-key", KEY_A).statusCode()).as("Anthropic-style x-api-key, an alias by glob").isEqualTo(200);
        assertThat(b[0].last().headers().get("x-api-key")).isNull();
        assertThat(b[0].last().model()).isEqualTo("m-a");

        HttpResponse<String> forbidden = chat("m-b", "Authorization", bearer(KEY_A));
        assertThat(forbidden.statusCode()).isEqualTo(403);
        assertThat(error(forbidden).path("code").asText()).isEqualTo("model_not_allowed");
        assertThat(b[1].count()).isZero();
        assertThat(chat("m-b", "Authorization", bearer(KEY_B)).statusCode()).isEqualTo(200);

        HttpResponse<String> models = f.http.send(HttpRequest.newBuilder(f.uri("/v1/models"))
                .header("Authorization", bearer(KEY_A)).GET().build(), HttpResponse.BodyHandlers.ofString());
        List<String> ids = new ArrayList<>();
        JSON.readTree(models.body()).path("data").forEach(m -> ids.add(m.path("id").asText()));
        assertThat(ids).containsExactlyInAnyOrder("m-a", "alias-a");
        assertThat(f.get("/v1/models").statusCode()).isEqualTo(401);
        assertThat(f.get("/health").statusCode()).as("readiness needs no key").isEqualTo(200);

        // the key's name (never the key) is a metric label
        String metrics = f.get("/metrics").body();
        assertThat(metrics).contains("llm_router_key_requests_total{key=\"team-a\"").doesNotContain(KEY_A);
    }

    @Test
    void the_keys_name_and_never_the_key_is_in_the_access_log_and_the_trace() throws Exception {
        InMemorySpanExporter spans = InMemorySpanExporter.create();
        RouterTracing.install(OpenTelemetrySdk.builder().setTracerProvider(
                SdkTracerProvider.builder().addSpanProcessor(
                        SimpleSpanProcessor.create(spans)).build()).build());
        try (LogCapture access = LogCapture.of("io.github.camelllmrouter.access")) {
            start("keys:\n" + key("team-a", KEY_A, "    models: [m-a]\n"));
            assertThat(chat("m-a", "Authorization", bearer(KEY_A), "x-request-id", "req-key-1").statusCode()).isEqualTo(200);
            assertThat(chat("m-b", "Authorization", bearer(KEY_A), "x-request-id", "req-key-2").statusCode()).isEqualTo(403);
            await().atMost(5, TimeUnit.SECONDS).until(() -> access.lines().stream().filter(l -> l.contains("req-key-")).count() == 2);
            assertThat(access.lines().stream().filter(l -> l.contains("req-key-"))).allMatch(l -> l.contains("key=team-a"))
                    .noneMatch(l -> l.contains(KEY_A));
            await().atMost(5, TimeUnit.SECONDS).until(() -> spans.getFinishedSpanItems().stream()
                    .anyMatch(span -> span.getKind() == SpanKind.SERVER));
            assertThat(spans.getFinishedSpanItems().stream().filter(span -> span.getKind() == SpanKind.SERVER)
                    .findFirst().orElseThrow().getAttributes().get(AttributeKey.stringKey("llm_router.key"))).isEqualTo("team-a");
        } finally {
            RouterTracing.install(null);
        }
    }

    @Test
    void the_keys_file_changes_live_and_a_bad_save_changes_nothing() throws Exception {
        start("keys:\n" + key("team-a", KEY_A, ""));
        Path file = dir.resolve("keys.yaml");
        assertThat(chat("m-a", "Authorization", bearer(KEY_B)).statusCode()).isEqualTo(401);

        Files.writeString(file, "keys:\n" + key("team-a", KEY_A, "") + key("team-b", KEY_B, ""));
        long saved = System.nanoTime();
        await().atMost(2, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50))
                .until(() -> chat("m-a", "Authorization", bearer(KEY_B)).statusCode() == 200);
        assertThat(Duration.ofNanos(System.nanoTime() - saved)).isLessThan(Duration.ofSeconds(2));

        Files.writeString(file, "keys:\n" + key("team-b", KEY_B, ""));
        await().atMost(2, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50))
                .until(() -> chat("m-a", "Authorization", bearer(KEY_A)).statusCode() == 401);

        // a bad save: an unknown field on line 4, then a bad hash: the keys in force are kept
        Files.writeString(file, "keys:\n" + key("team-b", KEY_B, "") + "    modles: [m-a]\n" + key("team-c", KEY_C, ""));
        await().atMost(3, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).until(() ->
                JSON.readTree(f.get("/health").body()).path("api_keys").path("refused").asInt() == 1);
        JsonNode keys = JSON.readTree(f.get("/health").body()).path("api_keys");
        assertThat(keys.path("last_error").asText()).contains(file.toString()).contains("modles").contains("line 4");
        assertThat(chat("m-a", "Authorization", bearer(KEY_B)).statusCode()).isEqualTo(200);
        assertThat(chat("m-a", "Authorization", bearer(KEY_C)).statusCode()).isEqualTo(401);

        Files.writeString(file, "keys:\n  - name: team-c\n    sha256: not-a-hash\n");
        await().atMost(3, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).until(() ->
                JSON.readTree(f.get("/health").body()).path("api_keys").path("refused").asInt() == 2);
        assertThat(JSON.readTree(f.get("/health").body()).path("api_keys").path("last_error").asText())
                .contains("sha256").contains("(line 3)");
        assertThat(chat("m-a", "Authorization", bearer(KEY_B)).statusCode()).isEqualTo(200);

        // a limit the rate limiter cannot hold (more than one token a nanosecond) is refused, not failed per request
        Files.writeString(file, "keys:\n" + key("team-b", KEY_B, "    limits: { tokens_per_minute: 1000000000000 }\n"));
        await().atMost(3, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).until(() ->
                JSON.readTree(f.get("/health").body()).path("api_keys").path("refused").asInt() == 3);
        assertThat(JSON.readTree(f.get("/health").body()).path("api_keys").path("last_error").asText())
                .contains("tokens_per_minute").contains("(line 4)");
        assertThat(chat("m-a", "Authorization", bearer(KEY_B)).statusCode()).isEqualTo(200);
    }

    @Test
    void requests_per_minute_answer_429_with_retry_after_and_openai_headers() throws Exception {
        FakeOpenAiBackend[] b = start("keys:\n" + key("team-a", KEY_A, "    limits: { requests_per_minute: 3 }\n")
                + key("team-b", KEY_B, ""));
        for (int i = 2; i >= 0; i--) {
            HttpResponse<String> r = chat("m-a", "Authorization", bearer(KEY_A));
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-ratelimit-limit-requests")).contains("3");
            assertThat(r.headers().firstValue("x-ratelimit-remaining-requests")).contains(Integer.toString(i));
            assertThat(r.headers().firstValue("x-ratelimit-reset-requests").orElseThrow()).matches("\\d+(ms|(\\.\\d+)?s|m\\d+s)");
        }
        HttpResponse<String> limited = chat("m-a", "Authorization", bearer(KEY_A));
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(error(limited).path("code").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(error(limited).path("type").asText()).isEqualTo("requests");
        assertThat(Long.parseLong(limited.headers().firstValue("retry-after").orElseThrow())).isBetween(1L, 60L);
        assertThat(limited.headers().firstValue("x-ratelimit-remaining-requests")).contains("0");
        assertThat(b[0].count()).as("the refused request reached no backend").isEqualTo(3);
        assertThat(chat("m-a", "Authorization", bearer(KEY_B)).statusCode()).as("another key is not limited").isEqualTo(200);
        assertThat(f.get("/metrics").body()).containsPattern(
                "llm_router_rate_limited_total\\{key=\"team-a\",limit=\"requests\",model=\"any\"} 1\\.0");
    }

    @Test
    void tokens_per_minute_count_the_answers_usage_and_streams() throws Exception {
        // each fake answer has usage 5 + 3 = 8 tokens
        start("keys:\n" + key("team-a", KEY_A, "    limits: { tokens_per_minute: 12 }\n"));
        HttpResponse<String> first = chat("m-a", "Authorization", bearer(KEY_A));
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue("x-ratelimit-limit-tokens")).contains("12");
        assertThat(first.headers().firstValue("x-ratelimit-remaining-tokens")).contains("12");
        HttpResponse<String> stream = f.post("/v1/chat/completions", "{\"model\":\"m-a\",\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", bearer(KEY_A));
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.headers().firstValue("x-ratelimit-remaining-tokens")).contains("4");
        HttpResponse<String> limited = chat("m-a", "Authorization", bearer(KEY_A));
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(error(limited).path("type").asText()).isEqualTo("tokens");
        assertThat(limited.headers().firstValue("retry-after")).isPresent();
    }

    @Test
    void the_next_request_sees_the_previous_answers_tokens_spent() throws Exception {
        // each answer costs 8 tokens; back to back, every request must see all the answers before it counted
        start("keys:\n" + key("team-a", KEY_A, "    limits: { tokens_per_minute: 400 }\n"));
        for (int i = 0; i < 50; i++) {
            HttpResponse<String> r = chat("m-a", "Authorization", bearer(KEY_A));
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-ratelimit-remaining-tokens")).as("request %d", i)
                    .contains(Integer.toString(400 - 8 * i));
        }
        assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).isEqualTo(429);
    }

    @Test
    void a_request_no_backend_answered_costs_no_tokens() throws Exception {
        FakeOpenAiBackend[] b = start("keys:\n" + key("team-a", KEY_A, "    limits: { tokens_per_minute: 12 }\n"));
        b[0].failWithStatus(503);
        for (int i = 0; i < 4; i++) {
            assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).isEqualTo(503);
        }
        b[0].healthy();
        assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).as("the failures spent none of the 12").isEqualTo(200);
    }

    @Test
    void with_keys_on_and_no_admin_key_engine_controls_are_refused() throws Exception {
        FakeOpenAiBackend[] b = start("keys:\n" + key("team-a", KEY_A, ""));
        HttpResponse<String> sleep = f.post("/sleep?id=x", "", "Authorization", bearer(KEY_A));
        assertThat(sleep.statusCode()).isEqualTo(403);
        assertThat(error(sleep).path("code").asText()).isEqualTo("admin_key_required");
        assertThat(f.get("/engines").statusCode()).isEqualTo(403);
        assertThat(b[0].count("/sleep")).isZero();
    }

    @Test
    void a_concurrency_cap_refuses_what_is_over_it_and_frees_its_place_when_answered() throws Exception {
        FakeOpenAiBackend[] b = start("keys:\n" + key("team-a", KEY_A, "    limits: { max_concurrent_requests: 2 }\n"));
        b[0].headersDelayMs(1500);
        List<CompletableFuture<HttpResponse<String>>> slow = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            slow.add(f.http.sendAsync(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                    .header("Authorization", bearer(KEY_A)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-a"))).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        await().atMost(5, TimeUnit.SECONDS).until(() -> b[0].activeRequests() == 2);
        HttpResponse<String> third = chat("m-a", "Authorization", bearer(KEY_A));
        assertThat(third.statusCode()).isEqualTo(429);
        assertThat(third.headers().firstValue("retry-after")).isPresent();
        for (CompletableFuture<HttpResponse<String>> s : slow) {
            assertThat(s.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        b[0].headersDelayMs(0);
        assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).isEqualTo(200);
    }

    @Test
    void a_client_that_hangs_up_gives_its_concurrency_place_back() throws Exception {
        FakeOpenAiBackend[] b = start("keys:\n" + key("team-a", KEY_A, "    limits: { max_concurrent_requests: 1 }\n"));
        b[0].headersDelayMs(3000);
        String body = RouterFixture.chat("m-a");
        try (Socket socket = new Socket("127.0.0.1", f.port)) {
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY_A
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            await().atMost(5, TimeUnit.SECONDS).until(() -> b[0].activeRequests() == 1);
            assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).as("the place is taken").isEqualTo(429);
        } // the client hangs up while its request waits for the backend
        b[0].headersDelayMs(0);
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100))
                .until(() -> chat("m-a", "Authorization", bearer(KEY_A)).statusCode() == 200);
    }

    @Test
    void a_models_limit_holds_over_every_key_and_a_keys_limit_on_a_model() throws Exception {
        start("keys:\n" + key("team-a", KEY_A, "    model_limits:\n      \"m-a\": { requests_per_minute: 1 }\n")
                + key("team-b", KEY_B, "") + "model_limits:\n  m-b: { requests_per_minute: 2 }\n");
        assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).isEqualTo(200);
        HttpResponse<String> second = chat("m-a", "Authorization", bearer(KEY_A));
        assertThat(second.statusCode()).isEqualTo(429);
        assertThat(error(second).path("message").asText()).contains("team-a").contains("m-a");
        assertThat(chat("m-a", "Authorization", bearer(KEY_B)).statusCode()).as("the other key on m-a").isEqualTo(200);

        assertThat(chat("m-b", "Authorization", bearer(KEY_A)).statusCode()).isEqualTo(200);
        assertThat(chat("m-b", "Authorization", bearer(KEY_B)).statusCode()).isEqualTo(200);
        HttpResponse<String> third = chat("m-b", "Authorization", bearer(KEY_B));
        assertThat(third.statusCode()).as("m-b's 2 per minute over both keys").isEqualTo(429);
        assertThat(error(third).path("message").asText()).contains("model 'm-b'");
    }

    @Test
    void a_backend_with_its_own_credential_gets_it_and_never_the_clients() throws Exception {
        // PR #921's shape: a self-hosted model falls back to a cloud gateway that needs a key of its own
        FakeOpenAiBackend self = f.backend("self-hosted", "llama");
        FakeOpenAiBackend cloud = f.backend("cloud", "llama-cloud");
        Path secret = dir.resolve("cloud-key");
        Files.writeString(secret, "sk-cloud-gateway-secret\n");
        Path routes = dir.resolve("routes");
        Files.createDirectories(routes);
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        Path other = dir.resolve("other-key");
        Files.writeString(other, "sk-other-tenant");
        Files.writeString(routes.resolve("models.camel.yaml"),
                RouterFixture.modelRouteYaml("llama", self.url(), "llama-cloud")
                + RouterFixture.modelRouteYaml("llama-cloud", cloud.url() + "?apiKey=file:" + secret + "&apiKeyHeader=api-key", null)
                        .replace("?weight=1\"", "&weight=1\"")
                // another route to the same gateway URL with a key of its own: each request carries its route's key
                + RouterFixture.modelRouteYaml("llama-other", cloud.url() + "?apiKey=file:" + other + "&apiKeyHeader=api-key", null)
                        .replace("?weight=1\"", "&weight=1\""));
        f.start(new HashMap<>(Map.of("router.routes-dir", routes.toString(), "router.demo", "false")));

        HttpResponse<String> direct = chat("llama", "Authorization", "Bearer sk-client");
        assertThat(direct.statusCode()).isEqualTo(200);
        assertThat(self.last().headers().get("authorization")).as("no keys file: forwarded, as the vLLM router does")
                .isEqualTo("Bearer sk-client");

        self.failWithStatus(503);
        HttpResponse<String> fallback = chat("llama", "Authorization", "Bearer sk-client", "x-api-key", "sk-client-2");
        assertThat(fallback.statusCode()).isEqualTo(200);
        assertThat(fallback.headers().firstValue("x-served-by")).contains("cloud");
        FakeOpenAiBackend.Received got = cloud.last();
        assertThat(got.model()).isEqualTo("llama-cloud");
        assertThat(got.headers().get("api-key")).isEqualTo("sk-cloud-gateway-secret");
        assertThat(got.headers().get("authorization")).isNull();
        assertThat(got.headers().get("x-api-key")).isNull();

        assertThat(chat("llama-other", "Authorization", "Bearer sk-client").statusCode()).isEqualTo(200);
        assertThat(cloud.last().headers().get("api-key")).isEqualTo("sk-other-tenant");
        assertThat(chat("llama-cloud", "Authorization", "Bearer sk-client").statusCode()).isEqualTo(200);
        assertThat(cloud.last().headers().get("api-key")).isEqualTo("sk-cloud-gateway-secret");

        // a rotated secret file is used without a restart
        Files.writeString(secret, "sk-cloud-rotated");
        Files.setLastModifiedTime(secret, FileTime.fromMillis(System.currentTimeMillis() + 5000));
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(200)).until(() -> {
            chat("llama-cloud", "Authorization", "Bearer sk-client");
            return "sk-cloud-rotated".equals(cloud.last().headers().get("api-key"));
        });
        assertThat(f.get("/health").body()).doesNotContain("sk-cloud");
    }

    @Test
    void the_admin_key_guards_metrics_and_the_detail_of_health() throws Exception {
        Path admin = dir.resolve("admin-key");
        Files.writeString(admin, "sk-admin-1");
        FakeOpenAiBackend a1 = f.backend("a1", "m-a");
        f.start(Map.of(), "--static-backends", a1.url(), "--static-models", "m-a", "--admin-api-key", "file:" + admin);
        assertThat(f.get("/metrics").statusCode()).isEqualTo(401);
        assertThat(f.http.send(HttpRequest.newBuilder(f.uri("/metrics")).header("Authorization", "Bearer sk-admin-1")
                .GET().build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        HttpResponse<String> health = f.get("/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(health.body()).path("status").asText()).isEqualTo("healthy");
        assertThat(health.body()).doesNotContain(a1.url()).doesNotContain("backends");
        HttpResponse<String> detailed = f.http.send(HttpRequest.newBuilder(f.uri("/health"))
                .header("Authorization", "Bearer sk-admin-1").GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(detailed.body()).contains(a1.url());
        assertThat(chat("m-a").statusCode()).as("the API needs no key without a keys file").isEqualTo(200);
    }

    @Test
    void a_management_port_serves_metrics_and_health_detail_apart_from_the_api() throws Exception {
        FakeOpenAiBackend a1 = f.backend("a1", "m-a");
        int management = RouterFixture.freePort();
        f.start(Map.of(), "--static-backends", a1.url(), "--static-models", "m-a", "--management-port", Integer.toString(management));
        assertThat(f.get("/metrics").statusCode()).isEqualTo(404);
        assertThat(f.get("/health").body()).doesNotContain(a1.url());
        URI m = URI.create("http://127.0.0.1:" + management);
        HttpResponse<String> metrics = f.http.send(HttpRequest.newBuilder(m.resolve("/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("llm_router_requests_total");
        HttpResponse<String> health = f.http.send(HttpRequest.newBuilder(m.resolve("/health")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.body()).contains(a1.url());
        HttpResponse<String> chat = f.http.send(HttpRequest.newBuilder(m.resolve("/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        RouterFixture.chat("m-a"))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(chat.statusCode()).as("the management port serves no model").isEqualTo(404);
        assertThat(chat("m-a").statusCode()).isEqualTo(200);
    }

    @Test
    void with_redis_unreachable_limits_fail_open_per_replica_or_closed_as_configured() throws Exception {
        int closedPort = RouterFixture.freePort();
        start("keys:\n" + key("team-a", KEY_A, "    limits: { requests_per_minute: 2 }\n"),
                "--rate-limit-redis-url", "redis://127.0.0.1:" + closedPort);
        assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).isEqualTo(200);
        assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).isEqualTo(200);
        assertThat(chat("m-a", "Authorization", bearer(KEY_A)).statusCode()).as("counted on this replica").isEqualTo(429);
        JsonNode limits = JSON.readTree(f.get("/health").body()).path("rate_limits");
        assertThat(limits.path("store").asText()).isEqualTo("redis");
        assertThat(limits.path("status").asText()).isEqualTo("degraded");
        assertThat(f.get("/metrics").body()).contains("llm_router_rate_limit_store_up{store=\"redis\"} 0.0");
        f.close();

        RouterFixture closed = new RouterFixture();
        try {
            FakeOpenAiBackend a1 = closed.backend("a1", "m-a");
            closed.start(Map.of(), "--static-backends", a1.url(), "--static-models", "m-a",
                    "--api-keys-file", dir.resolve("keys.yaml").toString(), "--rate-limit-redis-url",
                    "redis://127.0.0.1:" + closedPort, "--rate-limit-redis-failure", "closed");
            HttpResponse<String> r = closed.post("/v1/chat/completions", RouterFixture.chat("m-a"), "Authorization", bearer(KEY_A));
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(error(r).path("code").asText()).isEqualTo("rate_limit_store_unavailable");
            assertThat(a1.count()).isZero();
        } finally {
            closed.close();
        }
    }
}
