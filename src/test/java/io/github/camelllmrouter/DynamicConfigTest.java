package io.github.camelllmrouter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** --dynamic-config-json / --dynamic-config-yaml: the vLLM router's live config file, checked and applied as one. */
class DynamicConfigTest {

    static final ObjectMapper JSON = new ObjectMapper();
    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    String servedBy(String model, String... headers) {
        return f.servedBy(model, headers);
    }

    JsonNode health() throws Exception {
        return JSON.readTree(f.get("/health").body());
    }

    void awaitFailures(long n) {
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> health().path("routes").path("failed").asLong() == n);
    }

    @Test
    void a_json_config_is_served_watched_applied_as_one_and_a_bad_one_changes_nothing(@TempDir Path dir) throws Exception {
        FakeOpenAiBackend a = f.backend("a", "m-a");
        FakeOpenAiBackend b = f.backend("b", "m-b");
        Path config = dir.resolve("router.json");
        Files.writeString(config, """
                {"service_discovery": "static", "routing_logic": "roundrobin",
                 "static_backends": "%s", "static_models": "m-a", "static_aliases": "fast:m-a"}
                """.formatted(a.url()));
        // the file overrides the flags, as in the vLLM router; no demo backends start
        f.start(Map.of("router.demo", "auto"), "--dynamic-config-json", config.toString(), "--static-models", "ignored");
        assertThat(servedBy("m-a")).isEqualTo("a");
        assertThat(servedBy("fast")).isEqualTo("a");
        assertThat(a.last().model()).isEqualTo("m-a");
        assertThat(servedBy("demo-small")).isEqualTo("status 404");
        JsonNode shown = health().path("dynamic_config");
        assertThat(shown.path("static_backends").asText()).isEqualTo(a.url());
        assertThat(shown.path("static_aliases").asText()).isEqualTo("fast:m-a");

        // a new model, a fallback and a dropped alias arrive together
        Files.writeString(config, """
                {"service_discovery": "static", "routing_logic": "roundrobin",
                 "static_backends": ["%s", "%s"], "static_models": ["m-a", "m-b"],
                 "static_fallback_models": "m-a:m-b"}
                """.formatted(a.url(), b.url()));
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20)).until(() -> servedBy("m-b").equals("b"));
        assertThat(servedBy("fast")).isEqualTo("status 404");
        a.failWithStatus(503);
        assertThat(servedBy("m-a")).isEqualTo("b");
        assertThat(b.last().model()).isEqualTo("m-b");
        a.healthy();
        assertThat(health().path("dynamic_config").path("static_fallback_models").asText()).isEqualTo("m-a:m-b");

        // bad files: not JSON, an unknown field, a fallback cycle, a discovery change; each changes nothing
        String[][] bad = {
            {"{\"static_backends\": ", "not valid JSON"},
            {"{\"static_backendz\": \"http://x:1\"}", "unknown field 'static_backendz'"},
            {"{\"static_backends\": \"%s,%s\", \"static_models\": \"m-a,m-b\", \"static_fallback_models\": \"m-a:m-b,m-b:m-a\"}"
                    .formatted(a.url(), b.url()), "cycle"},
            {"{\"service_discovery\": \"consul\"}", "must be static or k8s"},
            {"{\"service_discovery\": \"k8s\", \"static_backends\": \"%s\"}".formatted(a.url()), "the pods are the backends"},
            {"{\"service_discovery\": \"k8s\", \"k8s_port\": \"http\"}", "must be a port number"},
            {"{\"routing_logic\": \"session\"}", "needs session_key"},
        };
        long failed = health().path("routes").path("failed").asLong();
        for (String[] save : bad) {
            Files.writeString(config, save[0]);
            awaitFailures(++failed);
            JsonNode h = health();
            assertThat(h.path("routes").path("last_error").asText()).contains("router.json").contains(save[1]);
            assertThat(h.path("dynamic_config").path("static_fallback_models").asText()).isEqualTo("m-a:m-b");
            assertThat(servedBy("m-b")).isEqualTo("b");
            assertThat(servedBy("m-a")).isEqualTo("a");
        }
        assertThat(f.get("/metrics").body()).contains("llm_router_route_reloads_total{result=\"failed\"} " + bad.length + ".0");

        // the next good file applies, an empty catalogue included
        Files.writeString(config, "{\"service_discovery\": \"static\", \"routing_logic\": \"roundrobin\"}");
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20)).until(() -> servedBy("m-a").equals("status 404"));
        assertThat(servedBy("m-b")).isEqualTo("status 404");
        assertThat(JSON.readTree(f.get("/v1/models").body()).path("data").size()).isZero();
    }

    @Test
    void a_config_that_conflicts_with_a_route_file_is_refused_and_counted_once(@TempDir Path dir) throws Exception {
        FakeOpenAiBackend a = f.backend("a", "m-a");
        FakeOpenAiBackend file = f.backend("file", "m-f");
        Path routes = Files.createDirectories(dir.resolve("routes"));
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        Files.writeString(routes.resolve("m-f.camel.yaml"), LiveRoutesTest.route("m-f", null, file.url() + "=1"));
        Path config = dir.resolve("router.json");
        Files.writeString(config, "{\"static_backends\": \"%s\", \"static_models\": \"m-a\"}".formatted(a.url()));
        f.start(Map.of("router.routes-dir", routes.toString()), "--dynamic-config-json", config.toString());
        assertThat(servedBy("m-a")).isEqualTo("a");
        assertThat(servedBy("m-f")).isEqualTo("file");

        // the config now claims m-f, which routes/m-f.camel.yaml serves
        Files.writeString(config, "{\"static_backends\": \"%s,%s\", \"static_models\": \"m-a,m-f\"}".formatted(a.url(), a.url()));
        awaitFailures(1);
        assertThat(health().path("routes").path("last_error").asText()).contains("already served by m-f.camel.yaml");
        assertThat(servedBy("m-f")).isEqualTo("file");
        assertThat(health().path("dynamic_config").path("static_models").asText()).isEqualTo("m-a");
        assertThat(f.get("/metrics").body()).contains("llm_router_route_reloads_total{result=\"failed\"} 1.0");
    }

    @Test
    void a_yaml_config_changes_the_routing_logic_live(@TempDir Path dir) throws Exception {
        FakeOpenAiBackend[] backends = {f.backend("s1", "m-s"), f.backend("s2", "m-s"), f.backend("s3", "m-s")};
        String urls = backends[0].url() + "," + backends[1].url() + "," + backends[2].url();
        Path config = dir.resolve("router.yaml");
        Files.writeString(config, """
                service_discovery: static
                routing_logic: roundrobin
                static_backends: %s
                static_models: m-s,m-s,m-s
                """.formatted(urls));
        f.start(Map.of(), "--dynamic-config-yaml", config.toString());
        // round robin: one user's requests go everywhere
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            seen.add(servedBy("m-s", "x-user-id", "alice"));
        }
        assertThat(seen).hasSize(3);

        Files.writeString(config, """
                service_discovery: static
                routing_logic: session
                session_key: x-user-id
                static_backends: %s
                static_models: m-s,m-s,m-s
                """.formatted(urls));
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> "session".equals(health().path("dynamic_config").path("routing_logic").asText()));
        // session: each user sticks to one backend
        for (String user : new String[] {"alice", "bob", "carol"}) {
            String first = servedBy("m-s", "x-user-id", user);
            for (int i = 0; i < 5; i++) {
                assertThat(servedBy("m-s", "x-user-id", user)).isEqualTo(first);
            }
        }
    }

    String status(FakeOpenAiBackend b) throws Exception {
        for (JsonNode n : health().path("backends")) {
            if (n.path("url").asText().equals(b.url())) {
                return n.path("status").asText();
            }
        }
        return "absent";
    }

    @Test
    void static_backend_health_checks_turn_on_and_off_live(@TempDir Path dir) throws Exception {
        FakeOpenAiBackend h1 = f.backend("h1", "m-h");
        FakeOpenAiBackend h2 = f.backend("h2", "m-h");
        Path config = dir.resolve("router.json");
        String text = "{\"static_backends\": \"%s,%s\", \"static_models\": \"m-h,m-h\", \"static_backend_health_checks\": %s}";
        Files.writeString(config, text.formatted(h1.url(), h2.url(), "false"));
        f.start(Map.of("router.static-backend-health-check-interval", "1", "router.static-backend-health-check-timeout-seconds", "1"),
                "--dynamic-config-json", config.toString());
        h1.hang(); // its probes would time out
        assertThat(h1.count("/health")).as("no probes while they are off").isZero();

        Files.writeString(config, text.formatted(h1.url(), h2.url(), "true"));
        await().atMost(Duration.ofSeconds(15)).until(() -> status(h1).equals("unhealthy"));
        assertThat(status(h2)).isEqualTo("healthy");
        assertThat(health().path("dynamic_config").path("static_backend_health_checks").asBoolean()).isTrue();

        // off again: what the probes decided no longer holds
        Files.writeString(config, text.formatted(h1.url(), h2.url(), "false"));
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20)).until(() -> status(h1).equals("healthy"));
    }

    @Test
    void pr_921s_per_model_yaml_starts_serves_and_falls_back(@TempDir Path dir) throws Exception {
        FakeOpenAiBackend g1 = f.backend("gpu-node-1", "glm-5");
        FakeOpenAiBackend g2 = f.backend("gpu-node-2", "glm-5");
        FakeOpenAiBackend cloud = f.backend("cloud-gateway", "glm-5-cloud");
        Path config = dir.resolve("router.yaml");
        // PR #921's README example, with the fakes' URLs
        Files.writeString(config, """
                service_discovery: static
                routing_logic: roundrobin
                static_models:
                  glm-5:
                    static_backends:
                      - %s
                      - %s
                    static_model_type: chat
                    fallback_model: glm-5-cloud
                  glm-5-cloud:
                    static_backends:
                      - %s
                    static_model_type: chat
                static_aliases:
                  glm: glm-5
                """.formatted(g1.url(), g2.url(), cloud.url()));
        f.start(Map.of(), "--dynamic-config-yaml", config.toString());
        assertThat(Set.of(servedBy("glm-5"), servedBy("glm-5"))).containsExactlyInAnyOrder("gpu-node-1", "gpu-node-2");
        assertThat(servedBy("glm")).isIn("gpu-node-1", "gpu-node-2");
        g1.stop();
        g2.stop();
        assertThat(servedBy("glm-5")).isEqualTo("cloud-gateway");
        assertThat(cloud.last().model()).isEqualTo("glm-5-cloud");
    }

    @Test
    void the_vllm_readme_config_with_callbacks_starts_and_serves(@TempDir Path dir) throws Exception {
        FakeOpenAiBackend a = f.backend("a", "facebook/opt-125m");
        FakeOpenAiBackend b = f.backend("b", "meta-llama/Llama-3.1-8B-Instruct");
        Path config = dir.resolve("router.json");
        Files.writeString(config, """
                {
                  "service_discovery": "static",
                  "routing_logic": "roundrobin",
                  "callbacks": "module.custom_callback_handler",
                  "static_models": "facebook/opt-125m,meta-llama/Llama-3.1-8B-Instruct",
                  "static_backends": "%s,%s",
                  "static_backend_health_checks": false
                }
                """.formatted(a.url(), b.url()));
        f.start(Map.of(), "--dynamic-config-json", config.toString());
        assertThat(servedBy("facebook/opt-125m")).isEqualTo("a");
        assertThat(servedBy("meta-llama/Llama-3.1-8B-Instruct")).isEqualTo("b");
    }

    @Test
    void a_bad_value_in_the_mapping_form_names_the_file_and_the_field(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("router.yaml");
        Files.writeString(config, """
                service_discovery: static
                routing_logic: roundrobin
                static_models:
                  glm-5:
                    static_backendz: [http://h:1]
                """);
        Assertions.assertThatThrownBy(() -> RouterMain.Settings.parse(
                new String[] {"--dynamic-config-yaml", config.toString()}, Path.of(".")))
                .hasMessageContaining(config.toString()).hasMessageContaining("static_models.glm-5.static_backendz");
    }
}
