package io.github.camelllmrouter;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Every file in examples/ is saved into a running router's routes/ (so it goes through the live-routes check)
 * with its example URLs pointed at fake backends named after the hosts, and serves what its header says.
 */
class ExamplesTest {

    static final Pattern BACKEND = Pattern.compile("http://([a-z0-9-]+):8000");
    static final ObjectMapper JSON = new ObjectMapper();
    final RouterFixture f = new RouterFixture();
    @TempDir
    Path routes;
    final Map<String, FakeOpenAiBackend> hosts = new LinkedHashMap<>();

    @AfterEach
    void stop() {
        f.close();
    }

    /** Starts a router on an empty routes/ and saves the example into it, its hosts replaced by fake backends. */
    void serve(String example, String... models) throws Exception {
        serve(example, text -> text, models);
    }

    /** The same, with the example's text changed first (a secret's path pointed at a test file). */
    void serve(String example, UnaryOperator<String> edit, String... models) throws Exception {
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        f.start(new HashMap<>(Map.of("router.routes-dir", routes.toString(), "router.demo", "false")));
        String text = edit.apply(Files.readString(Path.of("examples", example)));
        Matcher m = BACKEND.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            FakeOpenAiBackend b = hosts.computeIfAbsent(m.group(1), h -> f.backend(h, models));
            m.appendReplacement(out, Matcher.quoteReplacement(b.url()));
        }
        m.appendTail(out);
        assertThat(hosts).as("the example names its backends as http://<host>:8000").isNotEmpty();
        Files.writeString(routes.resolve(example), out.toString());
        for (String model : models) {
            await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).until(() -> !f.servedBy(model).startsWith("status"));
        }
        assertThat(JSON.readTree(f.get("/health").body()).path("routes").path("failed").asInt()).isZero();
    }

    @Test
    void every_example_is_tested_here() throws Exception {
        try (Stream<Path> files = Files.list(Path.of("examples"))) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("weighted-canary.camel.yaml", "fallback-chain.camel.yaml",
                            "session-affinity.camel.yaml", "least-loaded.camel.yaml", "alias.camel.yaml",
                            "cloud-fallback.camel.yaml");
        }
        for (String name : List.of("weighted-canary", "fallback-chain", "session-affinity", "least-loaded", "alias",
                "cloud-fallback")) {
            assertThat(Files.readString(Path.of("examples", name + ".camel.yaml"))).as(name + " has a header")
                    .startsWith("# ").contains("Use:");
        }
    }

    @Test
    void weighted_canary_sends_exactly_one_in_ten_to_the_canary() throws Exception {
        serve("weighted-canary.camel.yaml", "llama-70b");
        List<String> served = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            served.add(f.servedBy("llama-70b"));
        }
        assertThat(served.stream().filter("gpu-canary"::equals).count()).isEqualTo(3);
        assertThat(served.stream().filter("gpu-stable"::equals).count()).isEqualTo(27);
    }

    @Test
    void fallback_chain_falls_through_to_the_last_model_with_model_rewritten() throws Exception {
        serve("fallback-chain.camel.yaml", "big-model", "medium-model", "small-model");
        hosts.get("gpu-big").stop();
        hosts.get("gpu-medium").failWithStatus(503);
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("big-model"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("cpu-small");
        assertThat(r.headers().firstValue("x-llm-router-fallback-from")).contains("big-model");
        assertThat(hosts.get("cpu-small").last().model()).isEqualTo("small-model");
    }

    @Test
    void cloud_fallback_sends_the_gateway_its_own_key_and_never_the_clients() throws Exception {
        Path secret = routes.getParent().resolve("ai-gateway-key-" + System.nanoTime());
        Files.writeString(secret, "sk-gateway-own-key\n");
        try {
            serve("cloud-fallback.camel.yaml", text -> text.replace("/run/secrets/ai-gateway-key", secret.toString()),
                    "llama-3-8b", "llama-3-8b-cloud");
            HttpResponse<String> self = f.post("/v1/chat/completions", RouterFixture.chat("llama-3-8b"),
                    "Authorization", "Bearer sk-client-key");
            assertThat(self.headers().firstValue("x-served-by").orElseThrow()).startsWith("gpu-node-");
            hosts.get("gpu-node-1").stop();
            hosts.get("gpu-node-2").stop();
            HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("llama-3-8b"),
                    "Authorization", "Bearer sk-client-key");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by")).contains("ai-gateway");
            FakeOpenAiBackend.Received got = hosts.get("ai-gateway").last();
            assertThat(got.model()).isEqualTo("llama-3-8b-cloud");
            assertThat(got.headers().get("x-api-key")).isEqualTo("sk-gateway-own-key");
            assertThat(got.headers().get("authorization")).as("the client's key never reaches the gateway").isNull();
        } finally {
            Files.deleteIfExists(secret);
        }
    }

    @Test
    void session_affinity_keeps_a_user_on_one_backend() throws Exception {
        serve("session-affinity.camel.yaml", "chat-model");
        Map<String, String> first = new HashMap<>();
        for (int round = 0; round < 3; round++) {
            for (int u = 0; u < 12; u++) {
                String by = f.servedBy("chat-model", "x-user-id", "user-" + u);
                assertThat(first.computeIfAbsent("user-" + u, k -> by)).as("user-%d", u).isEqualTo(by);
            }
        }
        assertThat(first.values().stream().distinct().count()).as("users spread over the backends").isGreaterThan(1);
    }

    @Test
    void least_loaded_serves_over_both_backends() throws Exception {
        serve("least-loaded.camel.yaml", "long-context");
        Set<String> served = new HashSet<>();
        await().atMost(10, TimeUnit.SECONDS).until(() -> {
            served.add(f.servedBy("long-context"));
            return served.size() == 2;
        });
        assertThat(served).containsExactlyInAnyOrder("gpu-1", "gpu-2");
    }

    @Test
    void alias_is_served_by_its_model_with_the_model_name_rewritten() throws Exception {
        serve("alias.camel.yaml", "llama-70b");
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("gpt-4o"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(hosts.get("gpu-llama").last().model()).isEqualTo("llama-70b");
        assertThat(f.get("/v1/models").body()).contains("\"gpt-4o\"").contains("\"llama-70b\"");
    }
}
